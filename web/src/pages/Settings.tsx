import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api.ts";
import type { MessagingSettings } from "../types.ts";
import { ErrorBox, Loading } from "../components/States.tsx";

/** Messaging settings: the frequency cap across every journey, quiet hours, the sender. */
export function Settings() {
  const qc = useQueryClient();
  const settings = useQuery({ queryKey: ["messaging-settings"], queryFn: () => api<MessagingSettings>("/api/messaging/settings") });
  const [draft, setDraft] = useState<MessagingSettings | null>(null);
  useEffect(() => {
    if (settings.data && draft === null) setDraft(settings.data);
  }, [settings.data, draft]);
  const save = useMutation({
    mutationFn: (body: MessagingSettings) => api<MessagingSettings>("/api/messaging/settings", { method: "PUT", body }),
    onSuccess: (s) => {
      setDraft(s);
      void qc.invalidateQueries({ queryKey: ["messaging-settings"] });
    },
  });
  if (settings.isPending || draft === null) return <Loading what="the settings" />;
  if (settings.isError) return <ErrorBox error={settings.error} />;
  const num = (v: string) => (v.trim() === "" ? null : Math.max(0, Math.floor(Number(v))));
  return (
    <section className="card" data-testid="settings">
      <h2>Not intrusive</h2>
      <p className="note">Marketing messages count against the cap across every journey; transactional ones do not. Quiet hours are read in each customer's own time zone; a message due inside them waits until they end.</p>
      <div className="form-row">
        <label>
          At most per day
          <input aria-label="Per day" type="number" min={0} value={draft.caps.perDay ?? ""} placeholder="no cap" onChange={(e) => setDraft({ ...draft, caps: { ...draft.caps, perDay: num(e.target.value) } })} />
        </label>
        <label>
          At most per week
          <input aria-label="Per week" type="number" min={0} value={draft.caps.perWeek ?? ""} placeholder="no cap" onChange={(e) => setDraft({ ...draft, caps: { ...draft.caps, perWeek: num(e.target.value) } })} />
        </label>
        <label className="check">
          <input type="checkbox" checked={draft.quietHours !== null} onChange={(e) => setDraft({ ...draft, quietHours: e.target.checked ? { from: "21:00", to: "09:00" } : null })} /> Quiet hours
        </label>
        {draft.quietHours ? (
          <>
            <label>
              From
              <input aria-label="Quiet from" value={draft.quietHours.from} onChange={(e) => setDraft({ ...draft, quietHours: draft.quietHours ? { ...draft.quietHours, from: e.target.value } : null })} />
            </label>
            <label>
              To
              <input aria-label="Quiet to" value={draft.quietHours.to} onChange={(e) => setDraft({ ...draft, quietHours: draft.quietHours ? { ...draft.quietHours, to: e.target.value } : null })} />
            </label>
          </>
        ) : null}
      </div>
      <h2>Sender</h2>
      <div className="form-row">
        <label>
          Name
          <input aria-label="Sender name" value={draft.sender?.name ?? ""} placeholder="from FIDELIO_EMAIL_FROM" onChange={(e) => setDraft({ ...draft, sender: e.target.value ? { name: e.target.value, address: draft.sender?.address ?? "" } : undefined })} />
        </label>
        <label>
          Address
          <input aria-label="Sender address" value={draft.sender?.address ?? ""} onChange={(e) => setDraft({ ...draft, sender: { name: draft.sender?.name ?? "", address: e.target.value } })} />
        </label>
      </div>
      {save.isError ? <ErrorBox error={save.error} /> : null}
      <div className="actions">
        <button type="button" onClick={() => save.mutate(draft)} disabled={save.isPending} data-testid="save-settings">
          {save.isPending ? "Saving…" : "Save"}
        </button>
        {save.isSuccess ? <span role="status">Saved.</span> : null}
      </div>
    </section>
  );
}
