import type { Route } from '../config/schema.js'
import type { RelayMessage } from '../message.js'

export type Router = (message: RelayMessage) => string[]

const asList = <T>(value: T | T[] | undefined): T[] | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value]

/**
 * Turns the config's ordered rules into a function from a message to its relays. The first rule
 * that matches decides, unless it says `continue`; without rules, every relay gets every message.
 */
export function compileRouter(routes: readonly Route[] | undefined, relayNames: string[]): Router {
  if (routes === undefined) return () => relayNames
  const rules = routes.map(route => {
    const sources = asList(route.match?.source)
    const types = asList(route.match?.type)
    const components = asList(route.match?.component)
    const conversation = route.match?.conversation === undefined ? undefined : new RegExp(route.match.conversation)
    return {
      to: route.to,
      continue: route.continue === true,
      matches: (m: RelayMessage) =>
        (sources === undefined || sources.includes(m.source)) &&
        (types === undefined || types.includes(m.type)) &&
        (conversation === undefined || conversation.test(m.conversationId)) &&
        (components === undefined ||
          m.flowOutput.some(f => f.componentName !== undefined && components.includes(f.componentName)))
    }
  })
  return message => {
    const to = new Set<string>()
    for (const rule of rules) {
      if (!rule.matches(message)) continue
      for (const name of rule.to) to.add(name)
      if (!rule.continue) break
    }
    return [...to]
  }
}
