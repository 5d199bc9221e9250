/** Previous / Next for a paged list: each is a function when there is a page that way, null when not. */
export function Pager(props: { previous: (() => void) | null; next: (() => void) | null }) {
  return (
    <div className="pager">
      <button type="button" className="secondary" disabled={props.previous === null} onClick={() => props.previous?.()}>
        Previous
      </button>
      <button type="button" className="secondary" disabled={props.next === null} onClick={() => props.next?.()}>
        Next
      </button>
    </div>
  );
}
