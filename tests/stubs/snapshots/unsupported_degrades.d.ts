interface OddInput {
  weird_type?: unknown;
  not_a_schema?: unknown;
  conditional?: unknown;
  never?: never;
  always?: unknown;
  empty_enum?: never;
  infinity?: unknown;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Schemas with things we do not model. */
  odd(input?: OddInput): Promise<unknown>;
};
