/**
 * Ready-made journeys (product.md §5, from the seed articles), installed as
 * drafts the shop edits and activates. Each comes with plain default copy;
 * the win-back is the five-step funnel of seed 003 (hello, incentive,
 * feedback, last chance, unsubscribed), started when a customer is overdue
 * against their *own* rhythm, and stopped by any order.
 */
import type { JourneyDefinition } from "./definition.ts";

export interface ReadyMade {
  key: string;
  name: string;
  description: string;
  /** Built-in segments the definition refers to, by key; `segmentId: 0` placeholders are filled at install. */
  segment?: string;
  definition: JourneyDefinition;
}

const PRODUCTS = `<mj-section><mj-column><mj-text>
{% for p in products %}<p style="margin:0 0 8px"><a href="{{ p.url }}">{{ p.title }}</a>{% if p.price_minor %} · {{ p.price_minor | money: p.currency }}{% endif %}</p>{% endfor %}
</mj-text></mj-column></mj-section>`;

function body(paragraphs: string[], cta?: { label: string; href: string }, products = false): string {
  return (
    `<mj-section><mj-column>` +
    paragraphs.map((p) => `<mj-text>${p}</mj-text>`).join("") +
    (cta ? `<mj-button href="${cta.href}" background-color="#18181b">${cta.label}</mj-button>` : "") +
    `</mj-column></mj-section>` +
    (products ? PRODUCTS : "")
  );
}

const HELLO = "Hello{% if customer.first_name != '' %} {{ customer.first_name }}{% endif %},";
const SHOP = { label: "Visit the shop", href: "{{ shop.url }}" };
const ORDER_ENDS = [{ event: "Order Completed" }];
const EMAIL_CONSENT = { field: "consent.email", op: "is", value: true };

export const READY_MADE: readonly ReadyMade[] = [
  {
    key: "welcome",
    name: "Welcome series",
    description: "Three emails over a week to a new subscriber: welcome, what the shop is about, then a nudge towards a first order if none came.",
    definition: {
      trigger: { type: "event", event: "Consent Granted", where: [{ property: "channel", op: "eq", value: "email" }] },
      reentry: { policy: "once" },
      goals: [],
      start: "welcome",
      steps: [
        { id: "welcome", type: "send", channel: "email", purpose: "marketing", email: { subject: "Welcome to {{ shop.name }}", body: body([HELLO, "Thank you for joining us. We will write rarely, and only with things worth reading."], SHOP) }, next: "wait-2d" },
        { id: "wait-2d", type: "wait", duration: { days: 2 }, next: "story" },
        { id: "story", type: "send", channel: "email", purpose: "marketing", email: { subject: "What our customers love most", body: body([HELLO, "Here is what sells best at the moment:"], undefined, true) }, next: "wait-5d" },
        { id: "wait-5d", type: "wait", duration: { days: 5 }, next: "bought" },
        { id: "bought", type: "branch", condition: { field: "orderCount", op: "eq", value: 0 }, yes: "first-order" },
        { id: "first-order", type: "send", channel: "email", purpose: "marketing", email: { subject: "A little something for your first order", body: body([HELLO, "Use the code <strong>WELCOME10</strong> for 10% off your first order, this week."], SHOP) } },
      ],
    },
  },
  {
    key: "abandoned-browse",
    name: "Abandoned browse",
    description: "A product was viewed, nothing was added or bought within four hours: one gentle reminder, at most weekly.",
    definition: {
      trigger: { type: "event", event: "Product Viewed" },
      audience: EMAIL_CONSENT,
      reentry: { policy: "oncePer", days: 7 },
      goals: [{ event: "Order Completed" }, { event: "Product Added" }],
      start: "wait",
      steps: [
        { id: "wait", type: "wait", duration: { hours: 4 }, next: "remind" },
        { id: "remind", type: "send", channel: "email", purpose: "marketing", email: { subject: "Still thinking it over?", body: body([HELLO, "You were looking at {{ trigger.name | default: 'something we think you will like' }}. Here it is again, with a few others:"], SHOP, true) } },
      ],
    },
  },
  {
    key: "abandoned-cart",
    name: "Abandoned cart",
    description: "Something was added to the cart; no checkout of that cart within an hour, or no order within an hour of checkout: a reminder, then a second one a day later. Any order ends it.",
    definition: {
      trigger: { type: "event", event: "Product Added" },
      reentry: { policy: "everyTime" },
      goals: ORDER_ENDS,
      start: "checkout",
      steps: [
        { id: "checkout", type: "waitForEvent", event: "Checkout Started", sameAsTrigger: ["cart_id"], timeout: { hours: 1 }, next: "order", onTimeout: "remind-1" },
        { id: "order", type: "waitForEvent", event: "Order Completed", timeout: { hours: 1 }, onTimeout: "remind-1" },
        { id: "remind-1", type: "send", channel: "email", purpose: "marketing", email: { subject: "You left something in your cart", body: body([HELLO, "Your cart is saved. Pick up where you left off:"], { label: "Back to my cart", href: "{{ shop.url }}" }) }, next: "wait-1d" },
        { id: "wait-1d", type: "wait", duration: { days: 1 }, next: "remind-2" },
        { id: "remind-2", type: "send", channel: "email", purpose: "marketing", email: { subject: "Your cart is waiting", body: body([HELLO, "Your cart is still here, and so are we if you have a question: just reply to this email."], { label: "Finish my order", href: "{{ shop.url }}" }) } },
      ],
    },
  },
  {
    key: "thank-you",
    name: "First-purchase thank-you",
    description: "A day after a first order: thank you, and products that go with it.",
    definition: {
      trigger: { type: "event", event: "Order Completed" },
      audience: { field: "orderCount", op: "eq", value: 1 },
      reentry: { policy: "once" },
      goals: [],
      start: "wait",
      steps: [
        { id: "wait", type: "wait", duration: { days: 1 }, next: "thanks" },
        {
          id: "thanks",
          type: "send",
          channel: "email",
          purpose: "marketing",
          email: { subject: "Thank you for your first order", body: body([HELLO, "Thank you for choosing {{ shop.name }}. Customers who bought what you did also liked:"], undefined, true) },
        },
      ],
    },
  },
  {
    key: "review-request",
    name: "Review request",
    description: "Fourteen days after an order (time to be delivered and used), ask how it went. Shops that send an `Order Delivered` event can trigger on it instead.",
    definition: {
      trigger: { type: "event", event: "Order Completed" },
      audience: EMAIL_CONSENT,
      reentry: { policy: "oncePer", days: 30 },
      goals: [],
      start: "wait",
      steps: [
        { id: "wait", type: "wait", duration: { days: 14 }, next: "ask" },
        {
          id: "ask",
          type: "send",
          channel: "email",
          purpose: "marketing",
          email: { subject: "How was your order?", body: body([HELLO, "How do you like {% if last_order.lines.size > 0 %}{{ last_order.lines[0].title }}{% else %}your order{% endif %}? A short review helps other customers, and us."], { label: "Leave a review", href: "{{ shop.url }}" }) },
        },
      ],
    },
  },
  {
    key: "birthday",
    name: "Birthday",
    description: "On the customer's birthday, at 9:00 in their time zone: a gift.",
    definition: {
      trigger: { type: "date", field: "birthday", offsetDays: 0, at: "09:00" },
      audience: EMAIL_CONSENT,
      reentry: { policy: "everyTime" },
      goals: [],
      start: "gift",
      steps: [{ id: "gift", type: "send", channel: "email", purpose: "marketing", email: { subject: "Happy birthday{% if customer.first_name != '' %}, {{ customer.first_name }}{% endif %}!", body: body([HELLO, "Happy birthday from all of us. Your gift: free delivery on any order this week with the code <strong>BIRTHDAY</strong>."], SHOP) } }],
    },
  },
  {
    key: "birthday-points",
    name: "Birthday points",
    description: "On the customer's birthday, at 9:00 in their time zone: bonus loyalty points, and an email with the new balance. Needs the loyalty programme.",
    definition: {
      trigger: { type: "date", field: "birthday", offsetDays: 0, at: "09:00" },
      reentry: { policy: "everyTime" },
      goals: [],
      start: "points",
      steps: [
        { id: "points", type: "awardPoints", points: 200, reason: "birthday", next: "tell" },
        {
          id: "tell",
          type: "send",
          channel: "email",
          purpose: "marketing",
          email: { subject: "Happy birthday{% if customer.first_name != '' %}, {{ customer.first_name }}{% endif %}: 200 points for you", body: body([HELLO, "Happy birthday! We added 200 points to your account: you now have {{ loyalty.points }} points to spend."], SHOP) },
        },
      ],
    },
  },
  {
    key: "replenishment",
    name: "Replenishment reminder",
    description: "Five days before a product should run out (its usage period × quantity, or the customer's own re-buy rhythm for it), a reminder to re-order. Any order ends it.",
    definition: {
      trigger: { type: "replenishment", leadDays: 5 },
      audience: EMAIL_CONSENT,
      reentry: { policy: "everyTime" },
      goals: ORDER_ENDS,
      start: "remind",
      steps: [{ id: "remind", type: "send", channel: "email", purpose: "marketing", email: { subject: "Running low?", body: body([HELLO, "By our reckoning you will soon need a refill. Re-order in two clicks:"], { label: "Re-order", href: "{{ shop.url }}" }) } }],
    },
  },
  {
    key: "vip",
    name: "VIP / big spender",
    description: "A customer becomes VIP (loyal or RFM champion): a personal thank-you and early access rather than a discount.",
    segment: "vip",
    definition: {
      trigger: { type: "segment", segmentId: 0, on: "enter" },
      audience: EMAIL_CONSENT,
      reentry: { policy: "oncePer", days: 180 },
      goals: [],
      start: "thanks",
      steps: [{ id: "thanks", type: "send", channel: "email", purpose: "marketing", email: { subject: "You are one of our best customers", body: body([HELLO, "You are among the customers who keep {{ shop.name }} going. From now on you will hear about new collections a few days before anyone else."], SHOP) } }],
    },
  },
  {
    key: "win-back",
    name: "Win-back (five steps)",
    description:
      "When a customer is overdue against their own rhythm (buys every 90 days → around day 90): hello, an incentive a week later, a feedback request, a last chance, then they are unsubscribed to protect the list. Any order stops it.",
    definition: {
      trigger: { type: "overdue", factor: 1, minOrders: 2 },
      audience: EMAIL_CONSENT,
      reentry: { policy: "everyTime" },
      goals: ORDER_ENDS,
      start: "hello",
      steps: [
        { id: "hello", type: "send", channel: "email", purpose: "marketing", email: { subject: "We miss you{% if customer.first_name != '' %}, {{ customer.first_name }}{% endif %}", body: body([HELLO, "It has been a while. Here is what is new since your last visit:"], SHOP, true) }, next: "wait-1" },
        { id: "wait-1", type: "wait", duration: { days: 7 }, next: "incentive" },
        { id: "incentive", type: "send", channel: "email", purpose: "marketing", email: { subject: "15% off, just for you", body: body([HELLO, "Come back with 15% off your next order: code <strong>COMEBACK15</strong>, valid for two weeks."], SHOP) }, next: "wait-2" },
        { id: "wait-2", type: "wait", duration: { days: 7 }, next: "feedback" },
        { id: "feedback", type: "send", channel: "email", purpose: "marketing", email: { subject: "Can we ask you something?", body: body([HELLO, "Did something go wrong? Reply to this email and tell us: we read every answer."]) }, next: "wait-3" },
        { id: "wait-3", type: "wait", duration: { days: 7 }, next: "last-chance" },
        { id: "last-chance", type: "send", channel: "email", purpose: "marketing", email: { subject: "Last chance: your 15% ends soon", body: body([HELLO, "Your code <strong>COMEBACK15</strong> ends in three days."], SHOP) }, next: "wait-4" },
        { id: "wait-4", type: "wait", duration: { days: 7 }, next: "goodbye" },
                { id: "goodbye", type: "send", channel: "email", purpose: "marketing", email: { subject: "We will stop writing", body: body([HELLO, "We will not email you any more. You are always welcome back, and can subscribe again from the shop at any time."]) }, next: "wait-5" },
        // A day's grace, so the goodbye goes out (quiet hours may hold it overnight) before consent is withdrawn.
        { id: "wait-5", type: "wait", duration: { days: 1 }, next: "unsubscribed" },
        { id: "unsubscribed", type: "unsubscribe" },
      ],
    },
  },
  {
    key: "sunset",
    name: "Re-permission and sunset",
    description: "Weekly: subscribers who opened, clicked and bought nothing for 180 days are asked whether they still want email; no click in 14 days and they are unsubscribed.",
    definition: {
      trigger: { type: "schedule", everyDays: 7, at: "09:00" },
      audience: {
        all: [
          EMAIL_CONSENT,
          { field: "daysSinceLastOrder", op: "gte", value: 180 },
          { event: "Email Opened", window: { lastDays: 180 }, count: { atMost: 0 } },
          { event: "Email Clicked", window: { lastDays: 180 }, count: { atMost: 0 } },
          { event: "Email Sent", window: { lastDays: 180 }, count: { atLeast: 3 } },
        ],
      },
      reentry: { policy: "oncePer", days: 180 },
      goals: [{ event: "Email Clicked" }, { event: "Order Completed" }],
      start: "ask",
      steps: [
        { id: "ask", type: "send", channel: "email", purpose: "marketing", email: { subject: "Do you still want to hear from us?", body: body([HELLO, "We have not heard from you in a while. If you still want our emails, click below; otherwise we will stop writing in two weeks."], { label: "Yes, keep me subscribed", href: "{{ shop.url }}" }) }, next: "wait" },
        { id: "wait", type: "wait", duration: { days: 14 }, next: "sunset" },
        { id: "sunset", type: "unsubscribe" },
      ],
    },
  },
];
