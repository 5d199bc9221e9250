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

/** Previous / Next over an offset-paged list of `total` items, `page` at a time. */
export function OffsetPager(props: { offset: number; page: number; total: number; go: (offset: number) => void }) {
  const { offset, page, total, go } = props;
  return <Pager previous={offset === 0 ? null : () => go(Math.max(0, offset - page))} next={offset + page >= total ? null : () => go(offset + page)} />;
}
