/**
 * Small builders for protobuf fields the L7 resources share: durations, percentages, Any, the
 * FilterConfig wrapper of per-route filter configs, header mutations.
 */
import { parseGatewayDuration, parseGoDuration } from '../../config/schema/duration.ts';
import { envoy, google } from '../pb.ts';
import { L7_TYPE_URL } from './names.ts';

export type DurationProto = google.protobuf.Duration.$Properties;
export type FractionalPercentProto = envoy.type.v3.FractionalPercent.$Properties;
export type HeaderValueOptionProto = envoy.config.core.v3.HeaderValueOption.$Properties;

const AppendAction = envoy.config.core.v3.HeaderValueOption.HeaderAppendAction;
const Denominator = envoy.type.v3.FractionalPercent.DenominatorType;

/** Milliseconds -> Duration. */
export function msDuration(ms: number): DurationProto {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** An Istio (`1.5s`, `100ms`, `1h`) or Gateway API (`1h2m3s`) duration string -> Duration; undefined when unreadable. */
export function duration(text: string | undefined): DurationProto | undefined {
  if (text === undefined) return undefined;
  const ms = durationMs(text);
  return ms === undefined ? undefined : msDuration(ms);
}

export function durationMs(text: string): number | undefined {
  return parseGatewayDuration(text) ?? parseGoDuration(text);
}

/** A percentage (0-100, fractional allowed) -> FractionalPercent per million. */
export function percentOf(value: number): FractionalPercentProto {
  if (Number.isInteger(value)) return { numerator: value, denominator: Denominator.HUNDRED };
  return { numerator: Math.round(value * 10000), denominator: Denominator.MILLION };
}

/** numerator/denominator (Gateway API fraction) -> FractionalPercent. */
export function fractionOf(numerator: number, denominator: number): FractionalPercentProto {
  if (denominator === 100) return { numerator, denominator: Denominator.HUNDRED };
  if (denominator === 10000) return { numerator, denominator: Denominator.TEN_THOUSAND };
  return { numerator: Math.round((numerator * 1e6) / denominator), denominator: Denominator.MILLION };
}

export function any(typeUrl: string, value: Uint8Array): google.protobuf.Any.$Properties {
  return { typeUrl, value };
}

/** A per-route filter config wrapped as an optional FilterConfig (a client without the filter ignores it). */
export function optionalFilterConfig(typeUrl: string, value: Uint8Array): google.protobuf.Any.$Properties {
  const wrapped = envoy.config.route.v3.FilterConfig.encode({ config: { typeUrl, value }, isOptional: true }).finish();
  return any(L7_TYPE_URL.filterConfig, wrapped);
}

export function setHeader(key: string, value: string): HeaderValueOptionProto {
  return { header: { key, value }, appendAction: AppendAction.OVERWRITE_IF_EXISTS_OR_ADD };
}

export function addHeader(key: string, value: string): HeaderValueOptionProto {
  return { header: { key, value }, appendAction: AppendAction.APPEND_IF_EXISTS_OR_ADD };
}

/** Escapes a literal for an RE2 pattern. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
