/**
 * The UCI Online Retail transaction log (Chen, Sain & Guo 2012; UCI ML
 * repository): InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country.
 * One invoice is one order; an invoice number starting with C is a return of
 * its lines; a line with no CustomerID belongs to a guest order.
 */
import type { ImportFormat, ImportItem } from "./format.ts";
import { col } from "./format.ts";
import { OrderGrouper } from "./order-group.ts";
import { LineError, amount, instant, integer, lineErrorOf, required } from "./parse-fields.ts";

interface Line {
  productId: string;
  title: string | undefined;
  quantity: number;
  unitPriceMinor: number;
}

interface Head {
  invoice: string;
  placedAt: Date;
  customerId: string | undefined;
  country: string | undefined;
}

export const onlineRetail: ImportFormat = {
  name: "online-retail",
  description: "UCI Online Retail layout: InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
  layout: "csv",
  start({ currency }) {
    const grouper = new OrderGrouper<Head, Line>((head, lines) => {
      const customer = head.customerId
        ? { externalId: head.customerId, ...(head.country ? { traits: { country: head.country } } : {}) }
        : undefined;
      if (head.invoice.startsWith("C")) {
        const refundLines = lines.map((l) => ({ productId: l.productId, quantity: l.quantity, amountMinor: l.quantity * l.unitPriceMinor }));
        return {
          kind: "refund",
          raw: {
            externalId: `uci:${head.invoice}`,
            ...(customer ? { customer: { externalId: customer.externalId } } : {}),
            refundedAt: head.placedAt,
            currency,
            amountMinor: refundLines.reduce((s, l) => s + l.amountMinor, 0),
            reason: "return",
            lines: refundLines,
          },
        };
      }
      return { kind: "order", raw: { externalId: `uci:${head.invoice}`, ...(customer ? { customer } : {}), placedAt: head.placedAt, currency, lines } };
    });
    // Rows of one invoice repeat its date: parse each distinct date once.
    let lastDate: { raw: string | undefined; at: Date | undefined } = { raw: undefined, at: undefined };
    return {
      row(f, line): ImportItem[] {
        try {
          const invoice = required(col(f, "InvoiceNo", "Invoice"), "InvoiceNo");
          const isReturn = invoice.startsWith("C");
          const quantity = required(integer(col(f, "Quantity"), "Quantity"), "Quantity");
          if (quantity === 0) throw new LineError("Quantity", "is zero");
          if (quantity < 0 && !isReturn) throw new LineError("Quantity", `is negative (${quantity}) outside a return invoice`);
          const unitPriceMinor = required(amount(col(f, "UnitPrice", "Price"), currency, "UnitPrice"), "UnitPrice");
          if (unitPriceMinor < 0) throw new LineError("UnitPrice", "is negative");
          const rawDate = col(f, "InvoiceDate");
          if (rawDate !== lastDate.raw) lastDate = { raw: rawDate, at: instant(rawDate, "InvoiceDate") };
          const placedAt = required(lastDate.at, "InvoiceDate");
          const rawCustomer = col(f, "CustomerID", "Customer ID");
          const head: Head = {
            invoice,
            placedAt,
            customerId: rawCustomer?.replace(/\.0+$/, ""),
            country: col(f, "Country"),
          };
          const stock = required(col(f, "StockCode"), "StockCode");
          return grouper.add(invoice, line, head, {
            productId: stock,
            title: col(f, "Description"),
            quantity: Math.abs(quantity),
            unitPriceMinor,
          });
        } catch (err) {
          return [lineErrorOf(line, err)];
        }
      },
      end: () => grouper.flush(),
    };
  },
};

