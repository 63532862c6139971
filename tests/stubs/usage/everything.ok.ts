async function agent() {
  const echoed = await codemode.echo({ message: "hi" });
  const sum = await codemode.get_sum({ a: 1, b: 2 });
  await codemode.get_annotated_message({ messageType: "debug", includeImage: true });
  await codemode.get_env();
  await codemode.get_resource_reference({ resourceType: "Blob", resourceId: 3 });
  const weather = await codemode.get_structured_content({ location: "Chicago" });
  const summary: string = `${weather.conditions} at ${weather.temperature.toFixed(1)}C, ${weather.humidity}%`;
  await codemode.gzip_file_as_resource({ name: "a.gz", outputType: "resource" });
  return { echoed, sum, summary };
}
