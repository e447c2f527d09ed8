using System.CommandLine;
using MlPipelines.AI;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;
using MlPipelines.Server;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe serve</c>: an OpenAI-compatible HTTP server (<see cref="OpenAiServer"/>) over one model, opened once and shared
/// by the chat client and the embedding generator. Prints the bound address, then serves until Ctrl+C or SIGTERM.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer file; default: the one beside the model." };
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on; 0 = any free port (the bound address is printed).", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on every /v1 request." };
        var parallel = new Option<int>("--parallel") { Description = "Requests generated at once, each on its own session (KV cache).", DefaultValueFactory = _ => 1 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a free session; beyond that, 429.", DefaultValueFactory = _ => 16 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Default reply length when a request sets no max_tokens; 0 = until the context is full.", DefaultValueFactory = _ => 512 };
        var engine = new EngineArguments();

        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (chat, completions, embeddings).")
        {
            model, tokenizer, host, port, apiKey, parallel, queue, maxTokens,
        };
        engine.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var serverOptions = new OpenAiServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey),
                MaxConcurrentRequests = parse.GetValue(parallel),
                MaxQueuedRequests = parse.GetValue(queue),
            };
            serverOptions.Validate();
            ResolvedModel resolved = ResolvedModel.Resolve(parse.GetValue(model), parse.GetValue(tokenizer));
            // Requests name the model by its file or folder name (e.g. "stories260K"), not by a path on the server.
            string modelId = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(resolved.Path));
            var chatOptions = new LlamaChatClientOptions { ModelId = modelId, MaxConcurrentSessions = parse.GetValue(parallel), MaxOutputTokens = parse.GetValue(maxTokens) };
            chatOptions.Validate();
            using LoadedModel loaded = engine.Open(parse, console, resolved);
            using var chat = new LlamaChatClient(loaded, chatOptions);
            using var embeddings = new LlamaEmbeddingGenerator(loaded, modelId: modelId);
            await using OpenAiServer server = await OpenAiServer.StartAsync(chat, embeddings, serverOptions, cancellationToken);
            console.Out.WriteLine($"mlpipe: serving {server.ModelId} at {server.Address} (Ctrl+C to stop)");
            console.Out.Flush();
            await server.WaitForShutdownAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
