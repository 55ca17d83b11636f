// The fake Bot Connector of the integration tests is the same small server `lagebot chat` uses.
export {
  type CapturedCall,
  cardOf,
  collectText,
  LocalConnector as FakeBotConnector,
  type Responder,
  replyText,
} from '../../src/teams/local-connector.ts';
