/** The dashboard's CSV text (web/src/csv-text.ts): RFC 4180 quoting and no spreadsheet formulas from data. */
import { describe, expect, it } from "vitest";
import { toCsv } from "../web/src/csv-text.ts";

describe("dashboard CSV", () => {
  it("quotes what needs quoting and ends lines with CRLF", () => {
    expect(toCsv(["name", "value"], [["a, b", 1], ['say "hi"', null], ["two\nlines", 2.5]])).toBe('name,value\r\n"a, b",1\r\n"say ""hi""",\r\n"two\nlines",2.5\r\n');
  });

  it("keeps text that a spreadsheet would run as a formula as text, and negative numbers as numbers", () => {
    const csv = toCsv(["channel", "n"], [['=HYPERLINK("http://x")', -5], ["+1", 0], ["-cmd", 1], ["@SUM(A1)", 2], ["\tx", 3]]);
    expect(csv.split("\r\n").slice(1, 6)).toEqual(['"\'=HYPERLINK(""http://x"")",-5', "'+1,0", "'-cmd,1", "'@SUM(A1),2", "'\tx,3"]);
  });
});
