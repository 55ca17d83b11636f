import { z } from 'zod';
import { isWellFormedScopeId } from '../domain/scope-id.ts';

// A scope id as a card button carries it back: well-formed (src/domain/scope-id.ts) or refused.
// Whether it names anything is the service's question; a forged id gets "unknown", never a guess.
export const scopeIdSchema = z.string().max(300).refine(isWellFormedScopeId, 'not a scope id');
