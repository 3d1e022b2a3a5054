import type { Collection } from 'mongodb';
import type { Model } from 'mongoose';

/** The driver's collection behind a model, typed with the model's documents (for writes that bypass mongoose's casting). */
export function rawCollection<T extends { _id: string }>(model: Model<T>): Collection<T> {
  return model.collection as unknown as Collection<T>;
}
