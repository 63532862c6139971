interface GetCurrentTimeInput { timezone: string }
interface GetCurrentTimeOutput { timezone: string; datetime: string; day_of_week: string; is_dst: boolean }
interface ConvertTimeInput { source_timezone: string; time: string; target_timezone: string }
interface TimeResult { timezone: string; datetime: string; day_of_week: string; is_dst: boolean }
interface ConvertTimeOutput { source: TimeResult; target: TimeResult; time_difference: string }
/** A tool error rejects with an Error holding the tool's message. */
declare const codemode: {
  /**
   * Get current time in a specific timezone
   * @param input.timezone - IANA timezone name (e.g., 'America/New_York', 'Europe/London'). Use 'Etc/UTC' as local timezone if no timezone provided by the user.
   */
  get_current_time(input: GetCurrentTimeInput): Promise<GetCurrentTimeOutput>;
  /**
   * Convert time between timezones
   * @param input.source_timezone - Source IANA timezone name (e.g., 'America/New_York', 'Europe/London'). Use 'Etc/UTC' as local timezone if no source timezone provided by the user.
   * @param input.time - Time to convert in 24-hour format (HH:MM)
   * @param input.target_timezone - Target IANA timezone name (e.g., 'Asia/Tokyo', 'America/San_Francisco'). Use 'Etc/UTC' as local timezone if no target timezone provided by the user.
   */
  convert_time(input: ConvertTimeInput): Promise<ConvertTimeOutput>;
};
