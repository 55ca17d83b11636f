import { join } from 'node:path';

// Where a mail lab keeps everything (under DATA_DIR/mail-lab, never /etc/postfix) and which loopback
// ports it uses. rspamd takes three ports from `rspamdPort`: milter, scanner, controller.

export interface LabPorts {
  smtp: number; // Postfix's smtpd: mail into the gateway
  http: number; // the sink's /lab/v1/delivered
  sinkSmtp: number; // the sink's SMTP, where Postfix delivers
  agent: number; // the gateway agent's /gateway/v1
  rspamd: number; // milter; +1 scanner, +2 controller
}

export interface LabLayout {
  dir: string;
  postfixConfig: string;
  queue: string;
  postfixData: string;
  maps: string;
  rspamdConfig: string;
  rspamdDb: string;
  rspamdRun: string;
  rspamdLog: string;
  postfixLog: string;
  agentState: string;
  sinkJournal: string;
  pidFile: string;
  labLog: string;
  ports: LabPorts;
}

export function labLayout(dir: string, ports: LabPorts): LabLayout {
  return {
    dir,
    postfixConfig: join(dir, 'postfix'),
    queue: join(dir, 'queue'),
    postfixData: join(dir, 'postfix-data'),
    maps: join(dir, 'maps'),
    rspamdConfig: join(dir, 'rspamd'),
    rspamdDb: join(dir, 'rspamd-db'),
    rspamdRun: join(dir, 'rspamd-run'),
    rspamdLog: join(dir, 'log', 'rspamd.log'),
    postfixLog: join(dir, 'log', 'postfix.log'),
    agentState: join(dir, 'gateway-agent.sqlite'),
    sinkJournal: join(dir, 'delivered.jsonl'),
    pidFile: join(dir, 'lab.pid'),
    labLog: join(dir, 'log', 'lab.log'),
    ports,
  };
}
