// A vertical virtualizer for the event log: TanStack Virtual's core
// (Virtualizer) bound to React the way its useVirtualizer does, reduced to
// what a scrolling list needs. (useVirtualizer itself is flagged by the
// React Compiler lint as an incompatible library.)
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useReducer, useState } from 'react';

export interface RowsOptions {
  count: number;
  getScrollElement: () => HTMLDivElement | null;
  estimateSize: (index: number) => number;
  overscan?: number;
  getItemKey?: (index: number) => number | string;
}

export function useRows(o: RowsOptions): Virtualizer<HTMLDivElement, Element> {
  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const [v] = useState(
    () =>
      new Virtualizer<HTMLDivElement, Element>({
        ...o,
        observeElementRect,
        observeElementOffset,
        scrollToFn: elementScroll,
        onChange: () => rerender(),
      }),
  );
  // as useVirtualizer does: the options of this render, before it reads the items
  v.setOptions({ ...v.options, ...o, onChange: () => rerender() });
  useLayoutEffect(() => {
    v._willUpdate();
  });
  useLayoutEffect(() => v._didMount(), [v]);
  return v;
}
