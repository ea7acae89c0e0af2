import { readFileSync } from 'node:fs'
import t from 'tap'
import { seedExample } from '../../src/intake/seed.js'

const readme = readFileSync('README.md', 'utf8')

t.test(
  'the README leads a user through quickstart, Slack and Discord, configuration, operating, internals',
  async t => {
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map(m => m[1])
    const wanted = ['Quickstart', 'Connecting Slack and Discord', 'Configuration', 'Operating', 'How it works']
    t.same(
      headings.filter(h => wanted.includes(h!)),
      wanted,
      'in this order'
    )
    t.ok(readme.indexOf('## Quickstart') < readme.indexOf('```'), 'nothing runnable comes before the quickstart')
    t.match(readme.slice(0, readme.indexOf('## Quickstart')), /GPTBots calls the relay from the internet, over HTTPS/)
  }
)

t.test("the README's commands and GPTBots' example are the ones the tests run", async t => {
  t.match(readme, '```sh\nnpm ci && npm start\n```')
  t.match(readme, /```sh\nnpm test +#[^\n]*\nnpm run test:slow +#[^\n]*\n```/, 'both test tiers')
  const curl = /curl -X POST http:\/\/127\.0\.0\.1:8080\/webhook \\\n[\s\S]*?-d '(\{[\s\S]*?\})'\n```/.exec(readme)
  if (!t.ok(curl, 'the curl example')) return
  t.same(JSON.parse(curl![1]!), seedExample('65a4ccfC7ce58e728d5897e0'), "it posts GPTBots' documented example")
})

t.test('the diagrams put routing at intake, before the store and the dispatcher', async t => {
  for (const file of ['README.md', 'docs/how-it-works.md']) {
    const text = readFileSync(file, 'utf8')
    const diagram = /```\nGPTBots ──POST \/webhook[\s\S]*?```/.exec(text)?.[0] ?? ''
    t.ok(diagram, `${file} has the diagram`)
    const router = diagram.indexOf('router')
    t.ok(router > 0 && router < diagram.indexOf('store:'), `${file}: the router is at intake, before the store`)
    t.ok(router < diagram.indexOf('dispatcher:'), `${file}: and before the dispatcher`)
  }
})
