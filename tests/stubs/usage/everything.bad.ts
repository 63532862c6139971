async function agent() {
  await codemode.echo({}); // TS2345
  await codemode.get_sum({ a: 1, b: "2" }); // TS2322
  await codemode.get_annotated_message({ messageType: "info" }); // TS2322
  const weather = await codemode.get_structured_content({ location: "Paris" }); // TS2322
  weather.conditions.toFixed(1); // TS2551
  await codemode.echo({ message: "hi", loud: true }); // TS2353
  await codemode.get_sum(); // TS2554
  await codemode.get_weather({ city: "Oslo" }); // TS2339
}
