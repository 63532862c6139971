/** A postal address. */
interface Address { street: string; city: string; zip?: string }
interface Money { amount: number; /** @minLength 3 @maxLength 3 */ currency: string }
type CreateOrderDate = string;
interface CreateOrderInput {
  billing: Address;
  shipping?: Address;
  total: Money;
  deliver_on?: CreateOrderDate;
  external?: unknown;
  dangling?: unknown;
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /**
   * Create an order.
   * @param input.shipping - Where to send it.
   */
  create_order(input: CreateOrderInput): Promise<unknown>;
};
