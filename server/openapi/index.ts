export { jsonSchema, openApiDocument, openApiPath, type OpenApiDocument } from './document.ts';
export { docsPage } from './docs-page.ts';
export { contractRoutes, type ContractRoute, type ContractResponse, type RouteAuth } from './routes.ts';
