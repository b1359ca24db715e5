// How a conveyor agent reports its structured result: POST to the job's report route with the job's
// own token (valid only while the job runs). A refused report fails the job.
const env = process.env;

export async function report(agent, body) {
  const res = await fetch(`${env.CONVEYOR_API}/api/jobs/${env.CONVEYOR_JOB_ID}/report`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.CONVEYOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    console.error(`${agent}: report refused (HTTP ${res.status}): ${text}`);
    process.exit(1);
  }
  console.log(`${agent}: reported ${body.kind}: ${text}`);
}
