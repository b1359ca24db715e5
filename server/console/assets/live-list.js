// A panel's list kept by key: loaded from the API, then kept current by stream messages.

import { all } from './api.js';
import { $, fillList } from './dom.js';

/**
 * `keep(x)` says whether an item from the stream stays listed (a pending decision, an effect in
 * flight); `order` sorts what is shown.
 */
export function liveList({ listId, keyOf, keep = () => true, item, empty, order }) {
  const items = new Map();
  const render = () => {
    const shown = [...items.values()];
    if (order) shown.sort(order);
    fillList($(listId), shown, item, empty);
  };
  const reset = (values) => {
    items.clear();
    for (const x of values) items.set(keyOf(x), x);
    render();
  };
  return {
    reset,
    /** Replaces the list with every item of a paged API list. */
    load: async (path, name, maxPages) => reset(await all(path, name, maxPages)),
    /** The items listed now. */
    values: () => [...items.values()],
    upsert(x) {
      if (keep(x)) items.set(keyOf(x), x);
      else items.delete(keyOf(x));
      render();
    },
  };
}
