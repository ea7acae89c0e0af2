/** GPTBots' own V1 example, from the page this project was created from. */
export function seedExample(messageId: string, conversationId = '657303a8a764d47094874bbe') {
  return {
    message_id: messageId,
    message_type: 'ANSWER',
    text: 'Hi, is there anything I can help you?',
    flow_output: [{ content: '你好', branch: '1', from_component_name: 'User Input' }],
    create_time: 1679587005,
    conversation_id: conversationId
  }
}
