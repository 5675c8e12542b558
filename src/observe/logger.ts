import { pino, type Logger, type LevelWithSilent } from 'pino';

/** The platform's structured logger (JSON lines on stderr). */
export function createLogger(level: LevelWithSilent): Logger {
  return pino({ level, base: { service: 'strato' } }, pino.destination(2));
}
