-- Fitted models, one row per `fidelio models fit`: the validation report (fit
-- on the calibration period) and the parameters refitted on the whole history
-- that predictions use. Versions count up per workspace.
CREATE TABLE model_fits (
  workspace_id text NOT NULL REFERENCES workspaces(id),
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version      integer NOT NULL,
  fitted_at    timestamptz NOT NULL,
  unit         text NOT NULL,            -- day | week
  data_end     date NOT NULL,            -- last order day the prediction fit saw
  params       jsonb NOT NULL,           -- {bgNbd, paretoNbd, gammaGamma} fitted on the whole history
  report       jsonb NOT NULL,           -- the calibration/holdout report
  UNIQUE (workspace_id, version)
);
