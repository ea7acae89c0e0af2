import type { RelayMessage } from '../../src/message.js'
import type { DeliveryContext, Posted, RunLimits, RunOutcome, RunRelay } from '../../src/relays/types.js'

/** One platform post: the messages it carried, in order. */
export interface Post {
  ids: string[]
  /** 'one' for a run of one message, 'batch' for a run of several. */
  via: 'one' | 'batch'
  attempt: number
}

export type BatchScript = (
  messages: RelayMessage[],
  context: DeliveryContext
) => RunOutcome | undefined | Promise<RunOutcome | undefined>

/**
 * A relay that takes runs of several messages, as the Slack and Discord relays do: each call is one
 * post of the messages it says it delivered (a prefix of what it was offered). By default it
 * delivers all it is offered; a script may answer otherwise (undefined: the default).
 */
export class BatchRelay implements RunRelay {
  readonly posts: Post[] = []
  /** Every call, with the ids it was offered. */
  readonly offers: string[][] = []

  constructor(
    public runLimits: RunLimits,
    public script: BatchScript = () => undefined
  ) {}

  async deliverRun(messages: RelayMessage[], context: DeliveryContext): Promise<RunOutcome> {
    this.offers.push(messages.map(m => m.messageId))
    const outcome: RunOutcome = (await this.script(messages, context)) ?? {
      delivered: messages.map(() => ({}))
    }
    const n = this.posts.length + 1
    if (outcome.delivered.length > 0) {
      const carried = messages.slice(0, outcome.delivered.length)
      const via = messages.length === 1 ? 'one' : 'batch'
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
