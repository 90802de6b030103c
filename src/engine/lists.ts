import type { DecisionSinks } from '../observability/decision-sinks';
import { logEvent } from '../observability/log';
import type { CompiledList, ListFacts } from '../policy/compile';
import { after, type MaybePromise } from './maybe';
import type { RequestView } from './request-facts';
import { type ListSource, NOTHING_TO_SETTLE, type Verdict } from './verdict';

/** The lists a request is checked against: the policy's own, and the live ones when its limiter reads them. */
export interface RequestLists {
  readonly allow: CompiledList;
  readonly block: CompiledList;
  readonly live?: ListSource | undefined;
}

/** Whether the policy's or the live allow and block lists name the request's address, country, ASN or credential. */
export function listedAs(view: RequestView, lists: RequestLists, now: number): MaybePromise<'allow' | 'block' | undefined> {
  if (!hasLists(lists)) return undefined;
  const facts = new ViewFacts(view);
  const listed = (live: { allow: CompiledList; block: CompiledList } | undefined) => {
    if (lists.allow.matches(facts) || live?.allow.matches(facts)) return 'allow';
    if (lists.block.matches(facts) || live?.block.matches(facts)) return 'block';
    return undefined;
  };
  return lists.live ? after(lists.live.current(now), listed) : listed(undefined);
}

/** Whether any list, the policy's or a live one, could name a request. */
export function hasLists(lists: RequestLists): boolean {
  return !lists.allow.empty || !lists.block.empty || lists.live !== undefined;
}

/** What lists test of a request; country and network are read only by a list naming some. */
class ViewFacts implements ListFacts {
  readonly address: string | undefined;
  readonly credentialHash: string | undefined;
  constructor(private readonly view: RequestView) {
    this.address = view.address;
    this.credentialHash = view.identity.credentialHash;
  }
  get country(): string | undefined {
    const country = this.view.cf.country;
    return typeof country === 'string' ? country : undefined;
  }
  get asn(): number | undefined {
    const asn = this.view.cf.asn;
    return typeof asn === 'number' ? asn : undefined;
  }
}

/** The verdict for a request a block list names: 403, counted and logged. */
export function blockedVerdict(view: RequestView, sinks: DecisionSinks): Verdict {
  sinks.metrics.count('(blocklist)', 'blocked', sinks.analytics);
  logEvent('blocked', { reason: 'blocklist', path: view.path });
  return { view, results: [], limits: [], retryAfterMs: 0, settle: NOTHING_TO_SETTLE, kind: 'block', status: 403 };
}
