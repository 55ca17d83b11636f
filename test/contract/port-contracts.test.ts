import {
  gatewayInMemory,
  gatewayOnSimulatorInProcess,
  gatewayOverHttp,
  inventoryInMemory,
  inventoryOverHttp,
} from './ports/adapters.ts';
import { runGatewayPortContract } from './ports/gateway-port-contract.ts';
import { runInventoryPortContract } from './ports/inventory-port-contract.ts';

// Every adapter of the two back-end ports proves the same promises. A new adapter (another inventory, the
// Postfix gateway agent) is one line here, with its start() in ports/adapters.ts.

runInventoryPortContract(inventoryOverHttp);
runInventoryPortContract(inventoryInMemory);

runGatewayPortContract(gatewayOverHttp);
runGatewayPortContract(gatewayOnSimulatorInProcess);
runGatewayPortContract(gatewayInMemory);
