// The scheduled-sync body: what pg_cron and people send is accepted with sensible defaults,
// anything else is refused with a message naming the field and the problem.
import { assertEquals } from "../helpers/assert.ts";
import { parseSyncRequest } from "../../supabase/functions/_shared/scheduled-sync/request.ts";

const post = (body: string) => new Request("http://x/", { method: "POST", body });
const ID = "8f14e45f-ceea-467a-9575-8e4f1f3b7c1a";

Deno.test("an empty body or {} is a full run answered at once", async () => {
  for (const body of ["", "{}"]) {
    assertEquals(await parseSyncRequest(post(body)), {
      ok: true,
      request: { dryRun: false, wait: false },
    });
  }
});

Deno.test("a dry run waits for its answer unless told otherwise", async () => {
  const parsed = await parseSyncRequest(post('{"dryRun":true,"accountIds":["' + ID + '"]}'));
  assertEquals(parsed, { ok: true, request: { dryRun: true, wait: true, accountIds: [ID] } });
});

Deno.test("a dry run may look at up to 100 accounts; a real run at more", async () => {
  for (const body of ['{"dryRun":true,"maxAccounts":100}', '{"maxAccounts":101}']) {
    assertEquals((await parseSyncRequest(post(body))).ok, true, body);
  }
});

Deno.test("bad bodies are refused with the field and the problem", async () => {
  const cases: [string, string][] = [
    ["{not json", "body must be JSON"],
    ['{"acountIds":[]}', "unknown keys: acountIds"],
    ['{"accountIds":["' + ID + '","nope"]}', "accountIds[1] must be a UUID"],
    ['{"dryRun":"yes"}', "dryRun must be true or false"],
    ['{"maxAccounts":0}', "maxAccounts must be at least 1"],
    ['{"dryRun":true,"maxAccounts":101}', "maxAccounts must be at most 100 for a dry run"],
    [
      '{"accountIds":["' + ID + '"],"workspaceId":"' + ID + '"}',
      "workspaceId cannot be combined with accountIds",
    ],
    [
      '{"runId":"' + ID + '","dryRun":true}',
      "runId continues an existing run and takes no other option but wait",
    ],
    ["[]", "body must be a JSON object"],
  ];
  for (const [body, detail] of cases) {
    const parsed = await parseSyncRequest(post(body));
    assertEquals(parsed, { ok: false, detail }, body);
  }
});
