using MlPipelines.ManagedEngine.Tokenization.HuggingFace;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// A GGUF tokenizer with <c>tokenizer.ggml.model = "gpt2"</c> (byte-level BPE: Llama 3, SmolLM2,
/// DeepSeek-R1-Distill-Llama), read into a <see cref="HuggingFaceTokenizer"/> that encodes as llama.cpp does.
/// </summary>
/// <remarks>
/// Read: <c>tokenizer.ggml.tokens</c> (byte-level strings), <c>tokenizer.ggml.merges</c> ("left right", in rank
/// order), <c>tokenizer.ggml.token_type</c> (3 control and 2 unknown: special tokens, matched in text only when
/// asked; 4 user-defined: always matched), <c>tokenizer.ggml.pre</c> (which pre-tokenizer regexes split the text,
/// applied one after another as llama.cpp's <c>unicode_regex_split</c> does; absent means "default"),
/// <c>bos_token_id</c>, <c>eos_token_id</c> and <c>add_bos_token</c> (default: true for the Llama 3 pre-tokenizer,
/// as llama.cpp sets it, else false), <c>add_eos_token</c> (false).
/// </remarks>
internal static class GgufByteLevelVocabulary
{
    public const string Model = "gpt2";

    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The <c>tokenizer.ggml.pre</c> values this reader implements, one per distinct pre-tokenization.</summary>
    public static IReadOnlyList<string> PreTokenizerNames { get; } = ["llama-bpe", "smollm", "gpt-2", "qwen2", "default"];

    /// <summary>The pre-tokenizer steps llama.cpp applies for <paramref name="pre"/> (regex splits, then byte-level), or null when unknown.</summary>
    public static List<PreTokenizerStep>? PreTokenizerSteps(string pre, string source)
    {
        if (PreTokenizer(pre) is not var (patterns, _))
            return null;
        var steps = new List<PreTokenizerStep>();
        foreach (string pattern in patterns)
            steps.Add(new SplitStep(new CodePointRegex(pattern, source), SplitBehavior.Isolated, invert: false));
        steps.Add(new ByteLevelStep(addPrefixSpace: false, gpt2Split: null));
        return steps;
    }

    /// <summary>The pre-tokenizer regexes llama.cpp applies for a <c>tokenizer.ggml.pre</c> value, and whether it is Llama 3's.</summary>
    private static (string[] Patterns, bool IsLlama3)? PreTokenizer(string pre) => pre switch
    {
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "dbrx" or "smaug-bpe" => ([Llama3], true),
        "smollm" or "starcoder" or "refact" or "command-r" or "codeshell" or "exaone" or "minerva-7b" => ([@"\p{N}", Gpt2], false),
        "gpt-2" or "mpt" or "olmo" or "jais" or "trillion" => ([Gpt2], false),
        "qwen2" or "stablelm2" => ([Qwen2], false),
        "default" => ([@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"], false),
        _ => null,
    };

    public static HuggingFaceTokenizer FromFile(GgufFile f)
    {
        string[] tokens = f.GetStringArray("tokenizer.ggml.tokens") ?? throw f.Missing("tokenizer.ggml.tokens", "an ARRAY of STRING");
        // Without merges there is no BPE to run (llama.cpp refuses such a file too); a vocabulary of another kind
        // labelled gpt2 is reported as unsupported rather than as a corrupt file.
        string[] merges = f.GetStringArray("tokenizer.ggml.merges")
            ?? throw new NotSupportedException($"{f.Path}: tokenizer.ggml.model is '{Model}' but metadata 'tokenizer.ggml.merges' is missing; a byte-level BPE vocabulary needs its merges.");
        int[]? types = f.GetInt32Array("tokenizer.ggml.token_type");
        if (tokens.Length == 0) throw f.Invalid("tokenizer.ggml.tokens", "is empty");
        if (types is not null && types.Length != tokens.Length) throw f.Invalid("tokenizer.ggml.token_type", $"holds {types.Length} values for {tokens.Length} tokens");
        string pre = f.GetString("tokenizer.ggml.pre") ?? "default";
        var (patterns, isLlama3) = PreTokenizer(pre)
            ?? throw new NotSupportedException($"{f.Path}: tokenizer.ggml.pre is '{pre}'; supported are llama-bpe (Llama 3), smollm, gpt-2, qwen2, default and their llama.cpp aliases.");

        // As llama.cpp's token_to_id map: a repeated token text resolves to its last id.
        var tokenToId = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++) tokenToId[tokens[id]] = id;

        var ranks = new Dictionary<long, (int, int)>(merges.Length);
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string merge = merges[rank];
            int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1; // as llama.cpp: a left part may not be empty
            if (space < 0) throw f.Invalid("tokenizer.ggml.merges", $"element {rank} '{merge}' is not two tokens separated by a space");
            string left = merge[..space], right = merge[(space + 1)..];
            if (!tokenToId.TryGetValue(left, out int leftId) || !tokenToId.TryGetValue(right, out int rightId) || !tokenToId.TryGetValue(left + right, out int newId))
                throw f.Invalid("tokenizer.ggml.merges", $"element {rank} '{merge}' names a token that is not in tokenizer.ggml.tokens");
            ranks.TryAdd(BpeModel.PairKey(leftId, rightId), (rank, newId)); // llama.cpp keeps the first rank of a repeated pair
        }

        var added = new List<AddedToken>();
        if (types is not null)
            for (int id = 0; id < tokens.Length; id++)
                if (types[id] is 2 or 3 or 4 && tokens[id].Length > 0)
                    added.Add(new AddedToken(id, tokens[id], Special: types[id] != 4));

        int last = tokens.Length - 1;
        int bos = f.GetInt32("tokenizer.ggml.bos_token_id", -1, last) ?? -1;
        int eos = f.GetInt32("tokenizer.ggml.eos_token_id", -1, last) ?? -1;
        var model = new BpeModel(tokens, tokenToId, ranks, byteFallback: false, ignoreMerges: isLlama3, unkId: -1, fuseUnk: false);
        List<PreTokenizerStep> preTokenizers = PreTokenizerSteps(pre, f.Path)!;
        return new HuggingFaceTokenizer(f.Path, model, added, [], preTokenizers, [new DecoderStep.ByteLevel()],
            prefix: [], suffix: [], bos, eos,
            addBos: f.GetBool("tokenizer.ggml.add_bos_token") ?? isLlama3,
            addEos: f.GetBool("tokenizer.ggml.add_eos_token") ?? false,
            parseSpecialTokens: false);
    }
}
