/**
 * @module loyalty — the points programme: an append-only ledger with derived,
 * never-negative balances and idempotent, serialised postings; earning on
 * orders (net of discounts, after the return window, campaign multipliers),
 * clawback on refunds, bonus events; loyalty events in the event log.
 */
export { postPoints, balancesOf, ledgerOf, EntryInput, ENTRY_KINDS, type PointsEntry, type Posted, type EntryKind, type Balance, type LedgerEntryView } from "./ledger.ts";
export { LoyaltySettings, getLoyaltySettings, putLoyaltySettings, creditPoints, type CreditResult } from "./earn.ts";
export { scheduleLoyalty, runLoyaltyPass } from "./schedule.ts";
export { customerPoints, postCustomerEntry, customerLedger, LedgerPageQuery, type CustomerPoints } from "./customer-points.ts";
export { RewardInput, RedeemInput, listRewards, createReward, redeemReward, type Reward, type Redemption } from "./rewards.ts";
export { expirePoints, type ExpiryResult } from "./expire.ts";
export { LoyaltyMembersQuery, loyaltyOverview, loyaltyMembers, topEarners, type LoyaltyOverview, type LoyaltyMember, type LoyaltyMonth } from "./report.ts";
export { TierSettings, ReferralSettings, WheelSettings, WheelPrize, CodeReward } from "./earn.ts";
export { assignTiers, tierProgress, tiersOf, levelFor, type TierProgress, type TierResult } from "./tiers.ts";
export { rewardsFor, updateReward, RewardPatch, type AvailableReward } from "./rewards.ts";
export { ReferralInput, acceptReferral, referralsOf, referralCodeOf, referralLink, settleReferrals, mailboxOf, type Referral, type ReferralPass } from "./referrals.ts";
export { SpinInput, SpinsQuery, spinWheel, wheelAudit, recentSpins, prizeAt, nextSpinAt, DRAW_RANGE, type Spin, type WheelAudit } from "./wheel.ts";
export { PlanInput, PlanPatch, updatePlan, PaymentInput, CancelInput, listPlans, createPlan, membershipOf, recordMembershipPayment, cancelMembership, expireMemberships, addPeriod, type Plan, type Membership, type MembershipPass } from "./membership.ts";
export { TokenInput, storefrontSecret, rotateStorefrontSecret, issueCustomerToken, verifyCustomerToken, customerLoyalty, storefrontSetup, myReferrals, useReferralCode, type StorefrontReferral, type CustomerLoyalty, type TokenCustomer } from "./storefront.ts";
