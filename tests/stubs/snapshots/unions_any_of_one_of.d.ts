interface LookupInput {
  who: { id: number } | { /** @format email */ email: string };
  limit?: number | string;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Look up a user by id or by email. */
  lookup(input: LookupInput): Promise<unknown>;
};
