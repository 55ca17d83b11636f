// Who is asking, as Teams says it (activity.from and the tenant), never as card data says it.
// Services decide roles from aadObjectId; userId names a caller Teams gave no AAD object id.
export interface Caller {
  aadObjectId: string | null;
  userId: string;
  name: string;
  tenantId: string | null;
}
