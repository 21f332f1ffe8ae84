// TanStack Virtual's core bound to React the way its useVirtualizer does
// (useVirtualizer itself is flagged by the React Compiler lint as an
// incompatible library), for rows of one fixed height.
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useReducer, useState } from 'react';

export interface VirtualRowsOptions {
  count: number;
  getScrollElement: () => HTMLDivElement | null;
  rowHeight: number;
  overscan?: number;
  getItemKey?: (index: number) => string | number;
}

export function useVirtualRows(o: VirtualRowsOptions): Virtualizer<HTMLDivElement, Element> {
  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const opts = {
    count: o.count,
    getScrollElement: o.getScrollElement,
    estimateSize: () => o.rowHeight,
    overscan: o.overscan ?? 12,
    ...(o.getItemKey ? { getItemKey: o.getItemKey } : {}),
    observeElementRect,
    observeElementOffset,
    scrollToFn: elementScroll,
    onChange: () => rerender(),
  };
  const [v] = useState(() => new Virtualizer<HTMLDivElement, Element>(opts));
  v.setOptions({ ...v.options, ...opts });
  useLayoutEffect(() => {
    v._willUpdate();
  });
  useLayoutEffect(() => v._didMount(), [v]);
  return v;
}
