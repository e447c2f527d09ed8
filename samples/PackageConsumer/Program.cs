using Microsoft.Extensions.AI;
using Microsoft.ML;
using MlPipelines.AI;
using MlPipelines.Pipelines.Transforms;

// The README's "Use from .NET" as a program, built against the NuGet packages: a greedy chat reply, an embedding,
// and token ids from the ML.NET tokenize transform, one line each, so a test can compare them with the library's own.
//   PackageConsumer <model folder or file>
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: PackageConsumer <model>");
    return 2;
}
string model = args[0];
const string prompt = "Once upon a time";

using (IChatClient chat = LlamaChatClient.Open(model))
{
    ChatResponse reply = await chat.GetResponseAsync(prompt, new ChatOptions { Temperature = 0f, MaxOutputTokens = 24 });
    Console.WriteLine($"chat: {reply.Text.ReplaceLineEndings(" ")}");
}

using (IEmbeddingGenerator<string, Embedding<float>> embedder = LlamaEmbeddingGenerator.Open(model))
{
    Embedding<float> embedding = await embedder.GenerateAsync(prompt);
    Console.WriteLine($"embedding: {embedding.Vector.Length} {string.Join(' ', embedding.Vector.ToArray().Take(4).Select(v => v.ToString("R")))}");
}

var ml = new MLContext(seed: 1);
IDataView rows = ml.Data.LoadFromEnumerable(new[] { new Row { Text = prompt } });
ITransformer tokenize = ml.Transforms.Text.TokenizeWithLlama(LlamaModelReference.Managed(model), "Tokens", "Text").Fit(rows);
Row tokens = ml.Data.CreateEnumerable<Row>(tokenize.Transform(rows), reuseRowObject: false).Single();
Console.WriteLine($"tokens: {string.Join(',', tokens.Tokens)}");
return 0;

class Row
{
    public string Text { get; set; } = "";
    public int[] Tokens { get; set; } = [];
}
