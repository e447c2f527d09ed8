using Microsoft.ML.OnnxRuntime;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// An exported LLaMA decoder (see <see cref="ExportManifest"/>) running on ONNX Runtime, behind the same
/// <see cref="ILanguageModel"/> seam as the managed engine. One ONNX Runtime session is shared by all
/// decoder sessions; ONNX Runtime allows concurrent runs on it.
/// </summary>
public sealed class OnnxLanguageModel : ILanguageModel
{
    // Runs in flight: Dispose releases the ONNX Runtime session only after the last one (binding included) ends.
    private readonly InFlightGate _calls;

    private OnnxLanguageModel(string directory, string modelFile, ExportManifest manifest, InferenceSession session, OnnxDecoderContract contract,
        ExecutionProvider active, string? fallbackNotice, int threads)
    {
        ModelFile = modelFile;
        _calls = new InFlightGate(this, session.Dispose);
        Contract = contract;
        Threads = threads;
        Directory = directory;
        Manifest = manifest;
        Session = session;
        ActiveProvider = active;
        FallbackNotice = fallbackNotice;
    }

    /// <summary>The export directory the model was loaded from (the one holding its decoder file).</summary>
    public string Directory { get; }

    /// <summary>The decoder graph's file.</summary>
    public string ModelFile { get; }

    /// <summary>The graph's input/output contract, detected from the graph.</summary>
    public OnnxDecoderContract Contract { get; }

    /// <summary>
    /// The export's manifest (configuration, tokenizer file, profile); for another tool's export (no <c>mlpipe.json</c>)
    /// one made from its <c>config.json</c> or <c>genai_config.json</c>, with the profile <c>foreign</c>.
    /// </summary>
    public ExportManifest Manifest { get; }

    /// <inheritdoc />
    public ModelConfig Config => Manifest.Config;

    /// <summary>The execution provider the model actually runs on.</summary>
    public ExecutionProvider ActiveProvider { get; }

    /// <summary>When the requested provider was unavailable and the CPU was used instead, why; otherwise null.</summary>
    public string? FallbackNotice { get; }

    /// <summary>ONNX Runtime's intra-op threads as requested (0: its default).</summary>
    public int Threads { get; }

    /// <inheritdoc />
    public EngineDescription Description => new()
    {
        Engine = "onnxruntime",
        Provider = ActiveProvider.ToString(),
        Precision = Manifest.BlockSize is { } block ? $"{Manifest.Weights} (blocks of {block})" : Manifest.Weights,
        Threads = Threads,
        Model = Directory,
        Notice = FallbackNotice,
        HasHiddenStates = Contract.HasLastHiddenState,
    };

    internal InferenceSession Session { get; }

    /// <summary>The KV cache's head width in the graph: the model's, or wider when the graph pads heads.</summary>
    internal int KvHeadWidth => Contract.HeadDim ?? Config.HeadDim;

    /// <summary>Whether a <c>total_sequence_length</c> input is rank 0 (else <c>[1]</c>).</summary>
    internal bool TotalLengthIsScalar =>
        Session.InputMetadata.TryGetValue(OnnxDecoderContract.TotalSequenceLengthInput, out var total) && total.Dimensions.Length == 0;

    /// <summary>Runs the graph; ONNX Runtime's failures (a shape the graph's operators refuse, …) become an error naming the export.</summary>
    internal void Run(RunOptions options, OrtIoBinding binding)
    {
        try
        {
            Session.RunWithBinding(options, binding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"ONNX Runtime could not run the model in '{Directory}' ({Contract.Name} contract): {e.Message.Trim()}", e);
        }
    }

    /// <summary>
    /// Loads an export: a directory written by <c>mlpipe export</c> (<c>model.onnx</c>, optional <c>model.onnx.data</c>,
    /// <c>mlpipe.json</c>), or another tool's export of the same contract (<see cref="OnnxDecoderContract"/>) — a directory
    /// in Optimum's, onnxruntime-genai's or the Hugging Face Hub's layout (<see cref="OnnxExportLayout"/>), or the
    /// <c>.onnx</c> file itself — described by the <c>config.json</c> or <c>genai_config.json</c> and the tokenizer beside it.
    /// </summary>
    /// <param name="path">The export directory, or its decoder's <c>.onnx</c> file.</param>
    /// <param name="options">Threads, execution provider (see <see cref="EngineOptions.Validate"/>).</param>
    /// <exception cref="FileNotFoundException">The path, its decoder file, or any description of it (<c>mlpipe.json</c>, <c>config.json</c>, <c>genai_config.json</c>) is missing.</exception>
    /// <exception cref="InvalidDataException">The model file is not a loadable ONNX model, or its inputs and outputs are not those of an exported LLaMA decoder.</exception>
    /// <exception cref="ExecutionProviderUnavailableException">The provider is unavailable and <see cref="EngineOptions.FallbackToCpu"/> is off.</exception>
    public static OnnxLanguageModel Load(string path, EngineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new EngineOptions();
        options.Validate(EngineKind.Onnx);
        if (!System.IO.Directory.Exists(path) && !File.Exists(path))
            throw new DirectoryNotFoundException($"Exported model '{path}' does not exist; expected an export directory or a decoder's .onnx file.");
        string modelPath = OnnxExportLayout.FindDecoder(path);
        string directory = Path.GetDirectoryName(modelPath)!;
        ExportManifest manifest = ManifestOf(modelPath);   // before the graph's existence: ours names it in mlpipe.json's directory
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"'{directory}' has a model description but no {Path.GetFileName(modelPath)}.", modelPath);

        using SessionOptions sessionOptions = ExecutionProviders.Create(options, out var active, out var notice);
        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{modelPath}: not a loadable ONNX model ({e.Message.Trim()}).", e);
        }
        OnnxDecoderContract contract;
        try
        {
            contract = OnnxDecoderContract.Detect(session, modelPath);
            OnnxModelContract.Check(session, manifest.Config, modelPath, contract);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return new OnnxLanguageModel(directory, modelPath, manifest, session, contract, active, notice, options.Threads);
    }

    /// <summary>
    /// The description of the export at <paramref name="path"/> (a directory or its decoder's <c>.onnx</c> file), without
    /// loading the graph: its <c>mlpipe.json</c>, or for another tool's export one made from its <c>config.json</c> or
    /// <c>genai_config.json</c> (profile <c>foreign</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">No decoder file or no description is there.</exception>
    /// <exception cref="InvalidDataException">The description is malformed.</exception>
    public static ExportManifest ReadManifest(string path) => ManifestOf(OnnxExportLayout.FindDecoder(path));

    // The description of the export whose decoder is (or, beside mlpipe.json, should be) modelPath.
    private static ExportManifest ManifestOf(string modelPath)
    {
        string directory = Path.GetDirectoryName(modelPath)!;
        return File.Exists(Path.Combine(directory, ExportManifest.FileName)) ? ExportManifest.Read(directory) : ForeignExportManifest.Read(modelPath);
    }

    /// <summary>The tokenizer exported beside the model.</summary>
    /// <exception cref="FileNotFoundException">The export has no tokenizer.</exception>
    public PieceTokenizer LoadTokenizer()
    {
        if (Manifest.TokenizerFile is not { Length: > 0 } name)
            throw new FileNotFoundException($"The export in '{Directory}' has no tokenizer; name one explicitly.");
        return TokenizerLoader.Load(Path.Combine(Directory, name), Config.VocabSize);
    }

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public IModelSession CreateSession()
    {
        _calls.Enter();   // the session's IO binding is made from the ONNX Runtime session
        try
        {
            return new OnnxModelSession(this);
        }
        finally
        {
            _calls.Exit();
        }
    }

    /// <summary>Counts a run (binding and running) in, so the ONNX Runtime session outlives it; throws if the model was disposed.</summary>
    internal void EnterCall() => _calls.Enter();

    /// <summary>Counts a run out (the last one out of a disposed model releases the ONNX Runtime session).</summary>
    internal void ExitCall() => _calls.Exit();

    /// <summary>
    /// Runs a batch of sequences through the model in one call (no cache), padding them to the longest
    /// with an attention mask. Each row's results equal what the sequence alone would give.
    /// </summary>
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs, PaddingSide padding)
    {
        _calls.Enter();
        try
        {
            return OnnxBatchRunner.Run(this, sequences, outputs, padding);
        }
        finally
        {
            _calls.Exit();
        }
    }

    /// <inheritdoc />
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs) =>
        ForwardBatch(sequences, outputs, PaddingSide.Right);

    /// <inheritdoc />
    /// <remarks>
    /// Safe while other threads are running this model: their runs finish, the ONNX Runtime session is released when
    /// the last one ends, and every later call (and <see cref="CreateSession"/>) throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose() => _calls.Close();
}
