/**
 * models — the maths of customer-base models (BG/NBD and Pareto/NBD for transactions,
 * Gamma-Gamma for spend) as pure functions. Front door: other modules
 * import only this file. See README.md.
 */
export {
  bgNbdCustomerLogLikelihood,
  bgNbdLogLikelihood,
  compileBgNbdLikelihood,
  compileBgNbdLogLikelihood,
  expectedPurchases,
  expectedPurchasesDirect,
  expectedPurchasesIfAlive,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  probabilityAlive,
  type BgNbdParams,
  type FitOptions,
  type FitResult,
  type RfmCustomer,
  type ShapeGroups,
} from "./bg-nbd.ts";
export { groupIdenticalCustomers, groupSummaryColumns } from "./shape-groups.ts";
export {
  compileGammaGammaLikelihood,
  expectedAverageSpend,
  fitGammaGamma,
  gammaGammaCustomerLogLikelihood,
  gammaGammaLogLikelihood,
  type GammaGammaParams,
  type SpendColumns,
  type SpendCustomer,
} from "./gamma-gamma.ts";
export {
  bfgs,
  hessianFromGradient,
  invertSymmetricPositiveDefinite,
  logParameterStandardErrors,
  minimise,
  nelderMead,
  numericalHessian,
  type BfgsOptions,
  type MinimiseOptions,
  type MinimumResult,
  type NelderMeadOptions,
  type StandardErrors,
  PARAMETER_LOG_BOUND,
  fitOverLogParameters,
} from "./optimise.ts";
export { digamma, hyp2f1, lgammacor, lnBeta, lnGamma, lnHyp2f1Positive, logAddExp, type Hyp2f1Options } from "./special.ts";
export {
  UNIT_DAYS,
  dayNumber,
  dayOf,
  dayText,
  summarisePurchases,
  type CustomerSummary,
  type Purchase,
  type SummaryOptions,
  type TimeUnit,
} from "./summaries.ts";
export { mergeSameDays, purchaseDayRange, purchaseDaysOf, spendColumns, summariseDays, summaryColumns, type PurchaseDays, type SummaryColumns } from "./purchase-days.ts";
export { RFM_SEGMENTS, quintileScores, rfmScores, rfmSegment, type RfmInput, type RfmScore, type RfmSegment } from "./rfm.ts";
export {
  fitParetoNbd,
  paretoNbdCustomerLogLikelihood,
  paretoNbdExpectedPurchases,
  paretoNbdExpectedPurchasesNewCustomer,
  paretoNbdLogLikelihood,
  paretoNbdProbabilityAlive,
  type ParetoNbdParams,
} from "./pareto-nbd.ts";
export { validateModel, type TransactionModel, type Validation, type ValidationOptions } from "./validate.ts";
