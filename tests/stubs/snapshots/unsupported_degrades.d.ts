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
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Schemas with things we do not model. */
  odd(input?: OddInput): Promise<unknown>;
};
