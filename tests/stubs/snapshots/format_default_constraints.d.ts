interface SearchLogsInput {
  /** @format date-time */ since?: string;
  /** @default 50 @minimum 1 @maximum 500 */ limit?: number;
  /** @exclusiveMinimum 0 @exclusiveMaximum 1 @multipleOf 0.01 */ ratio?: number;
  /** @minLength 2 @maxLength 64 @pattern ^[a-z]+$ */ query?: string;
  /** @minItems 1 @uniqueItems true */ hosts?: string[];
  /** @deprecated */ old_flag?: boolean;
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /**
   * Search logs.
   * @param input.since - Start of the window.
   */
  search_logs(input?: SearchLogsInput): Promise<unknown>;
};
