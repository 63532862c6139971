interface UpdateInput {
  value: string | number | boolean;
  note?: string | null;
  owner?: string | null;
  list_or_null?: string[] | null;
  cleared?: null;
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Update a record. */
  update(input: UpdateInput): Promise<unknown>;
};
