// The operator commands' tables and live line: columns line up whatever the colours, long
// values are cut visibly, and a non-terminal gets one line per change, not one per poll.
import { assert, assertEquals } from "../helpers/assert.ts";
import { renderTable, truncate } from "../../cli/lib/table.ts";
import { palette, stripAnsi } from "../../cli/lib/colors.ts";
import { LiveLine, progressBar } from "../../cli/lib/progress-bar.ts";

Deno.test("renderTable aligns columns, right-aligns numbers and leaves no trailing spaces", () => {
  const text = renderTable(
    [{ header: "ACCOUNT" }, { header: "CALLS", align: "right" }, { header: "ERROR" }],
    [["@alice", 7, ""], ["@bartholomew", 1234, "rate_limited"]],
  );
  assertEquals(text.split("\n"), [
    "  ACCOUNT       CALLS  ERROR",
    "  @alice            7",
    "  @bartholomew   1234  rate_limited",
  ]);
});

Deno.test("colour codes do not change a table's layout", () => {
  const p = palette(true);
  const columns = [{ header: "STATUS" }, { header: "RUN" }];
  const plain = renderTable(columns, [["completed", "a"], ["failed", "b"]]);
  const coloured = renderTable(columns, [
    [{ text: "completed", color: p.green }, "a"],
    [{ text: "failed", color: p.red }, "b"],
  ], { headerStyle: p.dim });
  assert(coloured.includes("\x1b[32mcompleted\x1b[39m"), "the colour is there");
  assertEquals(stripAnsi(coloured), plain);
});

Deno.test("long cells are cut to maxWidth with an ellipsis, on one line", () => {
  assertEquals(truncate("short", 10), "short");
  assertEquals(truncate("a message\nover two lines", 12), "a message o…");
  const text = renderTable([{ header: "MSG", maxWidth: 8 }], [["0123456789"]]);
  assertEquals(text.split("\n")[1], "  0123456…");
});

Deno.test("hideEmptyColumns drops the columns nobody filled", () => {
  const text = renderTable(
    [{ header: "ACCOUNT" }, { header: "ERROR" }, { header: "STATUS" }],
    [["@a", "", "completed"], ["@b", null, "completed"]],
    { hideEmptyColumns: true },
  );
  assertEquals(text.split("\n")[0], "  ACCOUNT  STATUS");
});

Deno.test("a disabled palette adds nothing", () => {
  const p = palette(false);
  assertEquals(p.red("x") + p.bold("y"), "xy");
});

Deno.test("progressBar fills in proportion and copes with an empty run", () => {
  assertEquals(progressBar(0, 4, 8), "[........]");
  assertEquals(progressBar(2, 4, 8), "[####....]");
  assertEquals(progressBar(4, 4, 8), "[########]");
  assertEquals(progressBar(0, 0, 4), "[....]");
});

Deno.test("LiveLine prints a line per change when not on a terminal", () => {
  let out = "";
  const sink = {
    isTerminal: () => false,
    writeSync: (bytes: Uint8Array) => {
      out += new TextDecoder().decode(bytes);
      return bytes.length;
    },
  };
  const live = new LiveLine(sink);
  live.update("1/3 · 0s", "1/3");
  live.update("1/3 · 1s", "1/3");
  live.update("2/3 · 1s", "2/3");
  live.done();
  assertEquals(out, "1/3\n2/3\n");
});

Deno.test("LiveLine redraws in place on a terminal and ends the line when done", () => {
  let out = "";
  const sink = {
    isTerminal: () => true,
    writeSync: (bytes: Uint8Array) => {
      out += new TextDecoder().decode(bytes);
      return bytes.length;
    },
  };
  const live = new LiveLine(sink);
  live.update("a");
  live.update("b");
  live.done();
  assertEquals(out, "\r\x1b[2Ka\r\x1b[2Kb\n");
});
