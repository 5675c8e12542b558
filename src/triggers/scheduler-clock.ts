/** The cron scheduler's time is core's injectable {@link Clock}. */
export { MAX_TIMER_MS, systemClock, type Clock as SchedulerClock } from '../core/clock.js';
