import type { RelayMessage } from '../../src/message.js'
import type {
  BatchLimits,
  BatchOutcome,
  DeliveryContext,
  DeliveryOutcome,
  Posted,
  Relay
} from '../../src/relays/types.js'

/** One platform post: the messages it carried, in order. */
export interface Post {
  ids: string[]
  /** 'one' through deliver, 'batch' through deliverBatch. */
  via: 'one' | 'batch'
  attempt: number
}

export type BatchScript = (
  messages: RelayMessage[],
  context: DeliveryContext
) => BatchOutcome | undefined | Promise<BatchOutcome | undefined>

/**
 * A relay that takes combined deliveries, as the Slack and Discord relays do: each call is one
 * post of the messages it says it delivered (a prefix of what it was offered). By default it
 * delivers all it is offered; a script may answer otherwise (undefined: the default).
 */
export class BatchRelay implements Relay {
  readonly posts: Post[] = []
  /** Every call, with the ids it was offered. */
  readonly offers: string[][] = []

  constructor(
    public batchLimits: BatchLimits,
    public script: BatchScript = () => undefined
  ) {}

  async deliver(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome> {
    const outcome = await this.run([message], context, 'one')
    if (outcome.delivered.length === 1) return { status: 'delivered', posted: outcome.delivered[0] }
    return outcome.next ?? { status: 'retry', error: 'not delivered' }
  }

  deliverBatch(messages: RelayMessage[], context: DeliveryContext): Promise<BatchOutcome> {
    return this.run(messages, context, 'batch')
  }

  private async run(messages: RelayMessage[], context: DeliveryContext, via: Post['via']): Promise<BatchOutcome> {
    this.offers.push(messages.map(m => m.messageId))
    const outcome: BatchOutcome = (await this.script(messages, context)) ?? {
      delivered: messages.map(() => ({}))
    }
    const n = this.posts.length + 1
    if (outcome.delivered.length > 0) {
      const carried = messages.slice(0, outcome.delivered.length)
      this.posts.push({ ids: carried.map(m => m.messageId), via, attempt: context.attempt })
      // What the platform gave back: one post, and each message's place in it.
      outcome.delivered = outcome.delivered.map((posted, part): Posted => ({ post: n, part, ...posted }))
    }
    return outcome
  }

  /** Every message id posted, in posting order (repeats included). */
  get posted(): string[] {
    return this.posts.flatMap(p => p.ids)
  }
}
