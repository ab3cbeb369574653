export function counterHttpPlugin(): never { throw new Error('todo'); }
