using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;

// The README's ML.NET example as a program: tokenize → embed → generate on both engines, saved by one process and
// reloaded by another, and the same rows through a PredictionEngine. Every run prints one line per row, so two runs
// can be compared byte for byte.
//   ConsumerApp save <models folder> <pipeline.zip> <out.txt>
//   ConsumerApp load <pipeline.zip> <out.txt>
if (args.Length < 3 || (args[0] == "save" ? args.Length != 4 : args[0] != "load"))
{
    Console.Error.WriteLine("usage: ConsumerApp save <models folder> <pipeline.zip> <out.txt> | ConsumerApp load <pipeline.zip> <out.txt>");
    return 2;
}
var ml = new MLContext(seed: 1);
string[] texts = ["Once upon a time", "The little dog ran", "Lily saw a big red ball"];
IDataView data = ml.Data.LoadFromEnumerable(texts.Select(t => new Row { Text = t }).ToList());
ITransformer pipeline;
string zip = args[0] == "save" ? args[2] : args[1], output = args[^1];
if (args[0] == "save")
{
    string model = Path.Combine(args[1], "stories260K");
    var managed = LlamaModelReference.Managed(model);
    var onnx = LlamaModelReference.Onnx(model);   // exported once into the cache
    pipeline = ml.Transforms.Text.TokenizeWithLlama(managed, "Tokens", "Text")
        .Append(ml.Transforms.Text.EmbedWithLlama(onnx, "Embedding", "Text"))
        .Append(ml.Transforms.Text.GenerateWithLlama(managed, "Managed", "Text", new LlamaGenerateOptions { MaxNewTokens = 20, Temperature = 1f }))
        .Append(ml.Transforms.Text.GenerateWithLlama(onnx, "Onnx", "Text", new LlamaGenerateOptions { MaxNewTokens = 20 }))
        .Fit(data);
    LlamaPipelineModel.Save(ml, pipeline, data.Schema, zip);
}
else
{
    pipeline = LlamaPipelineModel.Load(ml, zip, out _);
}

var lines = new List<string>();
foreach (Result r in ml.Data.CreateEnumerable<Result>(pipeline.Transform(data), reuseRowObject: false))
    lines.Add($"{string.Join(',', r.Tokens)} | {r.Embedding.Sum():R} | {r.Managed} | {r.Onnx}");
using var engine = ml.Model.CreatePredictionEngine<Row, Result>(pipeline);
foreach (string text in texts)
{
    Result r = engine.Predict(new Row { Text = text });
    lines.Add($"single row: {string.Join(',', r.Tokens)} | {r.Embedding.Sum():R} | {r.Managed} | {r.Onnx}");
}
File.WriteAllLines(output, lines);
Console.WriteLine($"{args[0]}: {lines.Count} lines -> {output}");
return 0;

class Row { public string Text { get; set; } = ""; }

class Result
{
    public int[] Tokens { get; set; } = [];
    public float[] Embedding { get; set; } = [];
    public string Managed { get; set; } = "";
    public string Onnx { get; set; } = "";
}
