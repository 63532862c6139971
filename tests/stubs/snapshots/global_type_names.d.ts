/** @format date */
type ScheduleDate = string;
interface ScheduleError { code?: number }
type ScheduleRecord = Record<string, string>;
interface ScheduleInput { on: ScheduleDate; last_error?: ScheduleError; meta?: ScheduleRecord }
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Defs whose names are global TypeScript types. */
  schedule(input: ScheduleInput): Promise<unknown>;
};
