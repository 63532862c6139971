type ScheduleDate = string;
interface ScheduleError { code?: number }
type ScheduleRecord = Record<string, string>;
interface ScheduleInput { on: ScheduleDate; last_error?: ScheduleError; meta?: ScheduleRecord }
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Defs whose names are global TypeScript types. */
  schedule(input: ScheduleInput): Promise<unknown>;
};
