/**
 * @module loyalty — the points programme: an append-only ledger with derived,
 * never-negative balances and idempotent, serialised postings; earning on
 * orders (net of discounts, after the return window, campaign multipliers),
 * clawback on refunds, bonus events; loyalty events in the event log.
 */
export { postPoints, balancesOf, ledgerOf, EntryInput, ENTRY_KINDS, type PointsEntry, type Posted, type EntryKind, type Balance, type LedgerEntryView } from "./ledger.ts";
export { LoyaltySettings, getLoyaltySettings, putLoyaltySettings, creditPoints, type CreditResult } from "./earn.ts";
export { scheduleLoyalty } from "./schedule.ts";
export { customerPoints, postCustomerEntry, type CustomerPoints } from "./customer-points.ts";
export { RewardInput, RedeemInput, listRewards, createReward, redeemReward, type Reward, type Redemption } from "./rewards.ts";
export { expirePoints, type ExpiryResult } from "./expire.ts";
