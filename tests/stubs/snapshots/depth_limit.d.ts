interface DeepInput {
  next: {
    next: {
      next: {
        next: {
          next: {
            next: {
              next: {
                next: { next: { next: { next: { next: { next: unknown } } } } };
              };
            };
          };
        };
      };
    };
  };
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** A schema nested too deep. */
  deep(input: DeepInput): Promise<unknown>;
};
