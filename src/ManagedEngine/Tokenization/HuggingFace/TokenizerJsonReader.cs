using System.Text.Json;
using System.Text.RegularExpressions;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// Reads a tokenizer.json into a <see cref="HuggingFaceTokenizer"/>. Every field is type- and
/// range-checked (an <see cref="InvalidDataException"/> names the file and the JSON path); kinds of
/// model, normalizer, pre-tokenizer, post-processor or decoder that are not implemented raise
/// <see cref="NotSupportedException"/> rather than encode differently from tokenizers.
/// </summary>
internal static class TokenizerJsonReader
{
    private const string Kind = "tokenizer.json";

    public static HuggingFaceTokenizer Read(byte[] data, string name, TokenizerConfig? config, int? expectedVocabSize, bool parseSpecialTokens)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{name}' is not a valid {Kind}: {e.Message}", e);
        }
        using (doc)
        {
            JsonText.CheckStrings(data, doc.RootElement, message => new InvalidDataException($"'{name}' is not a valid {Kind}: {message}"));
            var f = new JsonFields(name, Kind);
            JsonElement root = f.Object(doc.RootElement, "$");
            JsonElement model = f.Object(f.Required(root, "model", "$"), "$.model");
            string modelType = f.OptionalString(model, "type", "$.model") ?? "BPE";
            if (modelType != "BPE")
                throw f.Unsupported("$.model.type", $"is '{modelType}' (only BPE models are implemented)");

            List<AddedToken> added = ReadAddedTokens(f, root);
            BpeModel bpe = ReadBpe(f, model, added.Count);
            foreach (AddedToken t in added)
                if (t.Id >= bpe.Size + added.Count)
                    throw f.Bad("$.added_tokens", $"gives '{t.Content}' the id {t.Id}, beyond the {bpe.Size + added.Count} tokens of the file");

            var normalizers = new List<NormalizerStep>();
            if (f.Optional(root, "normalizer") is JsonElement n) ReadNormalizer(f, n, "$.normalizer", normalizers);
            var preTokenizers = new List<PreTokenizerStep>();
            if (f.Optional(root, "pre_tokenizer") is JsonElement p) ReadPreTokenizer(f, p, "$.pre_tokenizer", preTokenizers);
            var decoders = new List<DecoderStep>();
            if (f.Optional(root, "decoder") is JsonElement d) ReadDecoder(f, d, "$.decoder", decoders);
            var (prefix, suffix) = f.Optional(root, "post_processor") is JsonElement post
                ? ReadPostProcessor(f, post, "$.post_processor")
                : ([], []);

            int size = Math.Max(bpe.Size, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
            // The post-processor's ids are read before the vocabulary's size is known; an id past it would be encoded
            // into every sequence and then refused by Decode.
            foreach (int id in prefix.Concat(suffix))
                if (id >= size)
                    throw f.Bad("$.post_processor", $"adds the token id {id}, beyond the {size} tokens of the file");
            if (expectedVocabSize is int expected && size != expected)
                throw new InvalidDataException($"'{name}' is not a valid tokenizer for this model: it has {size} tokens, but the model's vocabulary has {expected}.");

            int Lookup(string? token, string field)
            {
                if (token is null) return -1;
                foreach (AddedToken t in added) if (t.Content == token) return t.Id;
                return bpe.TryGetId(token, out int id) ? id : throw new InvalidDataException($"'{name}': {TokenizerConfig.FileName} names {field} '{token}', which is not a token of the tokenizer.");
            }
            int bos = config?.BosToken is string b ? Lookup(b, "bos_token") : prefix.Length > 0 ? prefix[0] : -1;
            int eos = config?.EosToken is string e ? Lookup(e, "eos_token") : suffix.Length > 0 ? suffix[^1] : -1;
            bool addBos = config?.AddBosToken ?? prefix.Length > 0;
            bool addEos = config?.AddEosToken ?? suffix.Length > 0;
            return new HuggingFaceTokenizer(name, bpe, added, normalizers, preTokenizers, decoders, prefix, suffix,
                bos, eos, addBos, addEos, parseSpecialTokens);
        }
    }

    private static List<AddedToken> ReadAddedTokens(JsonFields f, JsonElement root)
    {
        var result = new List<AddedToken>();
        if (f.Optional(root, "added_tokens") is not JsonElement array) return result;
        int i = 0;
        foreach (JsonElement item in f.Array(array, "$.added_tokens").EnumerateArray())
        {
            string path = $"$.added_tokens[{i++}]";
            f.Object(item, path);
            string content = f.String(f.Required(item, "content", path), path + ".content");
            if (content.Length == 0) throw f.Bad(path + ".content", "is empty");
            result.Add(new AddedToken(
                f.Int(f.Required(item, "id", path), path + ".id", 0, int.MaxValue - 1),
                content,
                f.OptionalBool(item, "special", path, false),
                f.OptionalBool(item, "single_word", path, false),
                f.OptionalBool(item, "lstrip", path, false),
                f.OptionalBool(item, "rstrip", path, false)));
        }
        return result;
    }

    private static BpeModel ReadBpe(JsonFields f, JsonElement model, int addedCount)
    {
        if (f.OptionalString(model, "continuing_subword_prefix", "$.model") is { Length: > 0 })
            throw f.Unsupported("$.model.continuing_subword_prefix", "is set");
        if (f.OptionalString(model, "end_of_word_suffix", "$.model") is { Length: > 0 })
            throw f.Unsupported("$.model.end_of_word_suffix", "is set");
        if (f.Optional(model, "dropout") is JsonElement dropout && (dropout.ValueKind != JsonValueKind.Number || dropout.GetDouble() != 0))
            throw f.Unsupported("$.model.dropout", "is set (BPE dropout makes encoding random)");

        JsonElement vocab = f.Object(f.Required(model, "vocab", "$.model"), "$.model.vocab");
        int count = 0;
        foreach (JsonProperty _ in vocab.EnumerateObject()) count++;
        // Ids beyond the number of entries could only be a sparse or hostile file; they would size arrays.
        int maxId = count + addedCount - 1;
        var tokenToId = new Dictionary<string, int>(count, StringComparer.Ordinal);
        var idToToken = new string?[count];
        int size = 0;
        // Paths for messages are built only when something is wrong: 128k vocabulary entries and 280k merges would
        // otherwise format as many strings at every load.
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            string Path() => $"$.model.vocab[\"{Shorten(entry.Name)}\"]";
            int id = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int fast) && fast >= 0 && fast <= maxId
                ? fast
                : f.Int(entry.Value, Path(), 0, Math.Max(0, maxId));
            if (id >= idToToken.Length) Array.Resize(ref idToToken, Math.Min(maxId + 1, Math.Max(id + 1, idToToken.Length * 2)));
            if (!tokenToId.TryAdd(entry.Name, id)) throw f.Bad(Path(), "is defined twice");
            if (idToToken[id] is not null) throw f.Bad(Path(), $"has the id {id}, which '{Shorten(idToToken[id]!)}' has too");
            idToToken[id] = entry.Name;
            size = Math.Max(size, id + 1);
        }
        Array.Resize(ref idToToken, size);

        var merges = new Dictionary<long, (int, int)>();
        if (f.Optional(model, "merges") is JsonElement mergeArray)
        {
            merges.EnsureCapacity(f.Array(mergeArray, "$.model.merges").GetArrayLength());
            int rank = 0;
            foreach (JsonElement merge in mergeArray.EnumerateArray())
            {
                string Path() => $"$.model.merges[{rank}]";
                string left, right;
                if (merge.ValueKind == JsonValueKind.String)
                {
                    string line = merge.GetString()!;
                    int space = line.IndexOf(' ');
                    if (space < 0 || line.IndexOf(' ', space + 1) >= 0) throw f.Bad(Path(), $"is \"{Shorten(line)}\", expected two tokens separated by one space");
                    left = line[..space];
                    right = line[(space + 1)..];
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
                {
                    left = f.String(merge[0], Path() + "[0]");
                    right = f.String(merge[1], Path() + "[1]");
                }
                else throw f.Bad(Path(), "is neither \"left right\" nor [left, right]");

                if (!tokenToId.TryGetValue(left, out int leftId)) throw f.Bad(Path(), $"names '{Shorten(left)}', which is not in the vocabulary");
                if (!tokenToId.TryGetValue(right, out int rightId)) throw f.Bad(Path(), $"names '{Shorten(right)}', which is not in the vocabulary");
                if (!tokenToId.TryGetValue(left + right, out int newId)) throw f.Bad(Path(), $"merges into '{Shorten(left + right)}', which is not in the vocabulary");
                // As tokenizers' map built in file order, a repeated pair takes its last rank.
                merges[BpeModel.PairKey(leftId, rightId)] = (rank, newId);
                rank++;
            }
        }

        int unkId = -1;
        if (f.OptionalString(model, "unk_token", "$.model") is string unk && !tokenToId.TryGetValue(unk, out unkId))
            throw f.Bad("$.model.unk_token", $"'{Shorten(unk)}' is not in the vocabulary");
        return new BpeModel(idToToken, tokenToId, merges,
            byteFallback: f.OptionalBool(model, "byte_fallback", "$.model", false),
            ignoreMerges: f.OptionalBool(model, "ignore_merges", "$.model", false),
            unkId, fuseUnk: f.OptionalBool(model, "fuse_unk", "$.model", false));
    }

    private static void ReadNormalizer(JsonFields f, JsonElement n, string path, List<NormalizerStep> steps)
    {
        switch (f.Type(n, path))
        {
            case "Sequence":
                EachOf(f, n, "normalizers", path, (item, at) => ReadNormalizer(f, item, at, steps));
                break;
            case "Prepend":
                steps.Add(new PrependStep(f.String(f.Required(n, "prepend", path), path + ".prepend")));
                break;
            case "Replace":
                steps.Add(new ReplaceStep(Pattern(f, n, path), f.String(f.Required(n, "content", path), path + ".content")));
                break;
            case var other:
                throw f.Unsupported(path + ".type", $"is the normalizer '{other}'");
        }
    }

    /// <summary>Reads each element of the array <paramref name="key"/> of a <c>Sequence</c> step, with its JSON path.</summary>
    private static void EachOf(JsonFields f, JsonElement node, string key, string path, Action<JsonElement, string> read)
    {
        int i = 0;
        foreach (JsonElement item in f.Array(f.Required(node, key, path), $"{path}.{key}").EnumerateArray())
            read(item, $"{path}.{key}[{i++}]");
    }

    private static void ReadPreTokenizer(JsonFields f, JsonElement p, string path, List<PreTokenizerStep> steps)
    {
        switch (f.Type(p, path))
        {
            case "Sequence":
                EachOf(f, p, "pretokenizers", path, (item, at) => ReadPreTokenizer(f, item, at, steps));
                break;
            case "Split":
                string behavior = f.String(f.Required(p, "behavior", path), path + ".behavior");
                if (!Enum.TryParse(behavior, ignoreCase: false, out SplitBehavior b) || !Enum.IsDefined(b))
                    throw f.Bad(path + ".behavior", $"is '{behavior}', expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
                steps.Add(new SplitStep(Pattern(f, p, path), b, f.OptionalBool(p, "invert", path, false)));
                break;
            case "ByteLevel":
                bool useRegex = f.OptionalBool(p, "use_regex", path, true);
                steps.Add(new ByteLevelStep(f.OptionalBool(p, "add_prefix_space", path, true),
                    useRegex ? new SplitStep(new CodePointRegex(ByteLevelStep.Gpt2Pattern, f.File), SplitBehavior.Isolated, false) : null));
                break;
            case "Metaspace":
                steps.Add(new MetaspaceStep(Replacement(f, p, path), PrependScheme(f, p, path), f.OptionalBool(p, "split", path, true)));
                break;
            case "Digits":
                steps.Add(new SplitStep(new CodePointRegex(@"\p{N}", f.File),
                    f.OptionalBool(p, "individual_digits", path, false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous, false));
                break;
            case var other:
                throw f.Unsupported(path + ".type", $"is the pre-tokenizer '{other}'");
        }
    }

    private static void ReadDecoder(JsonFields f, JsonElement d, string path, List<DecoderStep> steps)
    {
        switch (f.Type(d, path))
        {
            case "Sequence":
                EachOf(f, d, "decoders", path, (item, at) => ReadDecoder(f, item, at, steps));
                break;
            case "Replace":
                JsonElement pattern = f.Object(f.Required(d, "pattern", path), path + ".pattern");
                if (f.Optional(pattern, "String") is not JsonElement s)
                    throw f.Unsupported(path + ".pattern", "is not a String pattern (a Regex pattern in a decoder)");
                steps.Add(new DecoderStep.Replace(f.String(s, path + ".pattern.String"), f.String(f.Required(d, "content", path), path + ".content")));
                break;
            case "ByteFallback":
                steps.Add(new DecoderStep.ByteFallback());
                break;
            case "Fuse":
                steps.Add(new DecoderStep.Fuse());
                break;
            case "Strip":
                string content = f.String(f.Required(d, "content", path), path + ".content");
                if (content.Length != 1) throw f.Bad(path + ".content", $"is \"{Shorten(content)}\", expected one character");
                steps.Add(new DecoderStep.Strip(content[0], f.Int(f.Required(d, "start", path), path + ".start", 0, 1 << 20),
                    f.Int(f.Required(d, "stop", path), path + ".stop", 0, 1 << 20)));
                break;
            case "Metaspace":
                steps.Add(new DecoderStep.Metaspace(Replacement(f, d, path), PrependScheme(f, d, path) != "never"));
                break;
            case "ByteLevel":
                steps.Add(new DecoderStep.ByteLevel());
                break;
            case var other:
                throw f.Unsupported(path + ".type", $"is the decoder '{other}'");
        }
    }

    /// <summary>The ids the post-processor puts before and after a single sequence.</summary>
    private static (int[] Prefix, int[] Suffix) ReadPostProcessor(JsonFields f, JsonElement p, string path)
    {
        switch (f.Type(p, path))
        {
            case "ByteLevel":
                return ([], []); // offsets only
            case "Sequence":
            {
                var prefix = new List<int>();
                var suffix = new List<int>();
                int i = 0;
                foreach (JsonElement item in f.Array(f.Required(p, "processors", path), path + ".processors").EnumerateArray())
                {
                    var (pre, post) = ReadPostProcessor(f, item, $"{path}.processors[{i++}]");
                    prefix.AddRange(pre);
                    suffix.AddRange(post);
                }
                return (prefix.ToArray(), suffix.ToArray());
            }
            case "RobertaProcessing":
            case "BertProcessing":
                return ([SpecialPairId(f, p, "cls", path)], [SpecialPairId(f, p, "sep", path)]);
            case "TemplateProcessing":
                return ReadTemplate(f, p, path);
            case var other:
                throw f.Unsupported(path + ".type", $"is the post-processor '{other}'");
        }
    }

    private static int SpecialPairId(JsonFields f, JsonElement p, string field, string path)
    {
        JsonElement pair = f.Array(f.Required(p, field, path), $"{path}.{field}");
        if (pair.GetArrayLength() != 2) throw f.Bad($"{path}.{field}", "is not a [token, id] pair");
        return f.Int(pair[1], $"{path}.{field}[1]", 0, int.MaxValue - 1);
    }

    private static (int[] Prefix, int[] Suffix) ReadTemplate(JsonFields f, JsonElement p, string path)
    {
        JsonElement specials = f.Object(f.Required(p, "special_tokens", path), path + ".special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool sequenceSeen = false;
        int i = 0;
        foreach (JsonElement piece in f.Array(f.Required(p, "single", path), path + ".single").EnumerateArray())
        {
            string itemPath = $"{path}.single[{i++}]";
            f.Object(piece, itemPath);
            if (f.Optional(piece, "Sequence") is JsonElement)
            {
                if (sequenceSeen) throw f.Bad(itemPath, "is a second sequence in the single-sequence template");
                sequenceSeen = true;
            }
            else if (f.Optional(piece, "SpecialToken") is JsonElement special)
            {
                string name = f.String(f.Required(f.Object(special, itemPath + ".SpecialToken"), "id", itemPath + ".SpecialToken"), itemPath + ".SpecialToken.id");
                JsonElement entry = f.Object(f.Required(specials, name, path + ".special_tokens"), $"{path}.special_tokens[\"{Shorten(name)}\"]");
                int k = 0;
                foreach (JsonElement id in f.Array(f.Required(entry, "ids", $"{path}.special_tokens[\"{Shorten(name)}\"]"), "ids").EnumerateArray())
                    (sequenceSeen ? suffix : prefix).Add(f.Int(id, $"{path}.special_tokens[\"{Shorten(name)}\"].ids[{k++}]", 0, int.MaxValue - 1));
            }
            else throw f.Bad(itemPath, "is neither a Sequence nor a SpecialToken");
        }
        if (!sequenceSeen) throw f.Bad(path + ".single", "has no Sequence");
        return (prefix.ToArray(), suffix.ToArray());
    }

    private static CodePointRegex Pattern(JsonFields f, JsonElement owner, string path)
    {
        JsonElement pattern = f.Object(f.Required(owner, "pattern", path), path + ".pattern");
        if (f.Optional(pattern, "Regex") is JsonElement regex) return new CodePointRegex(f.String(regex, path + ".pattern.Regex"), f.File);
        if (f.Optional(pattern, "String") is JsonElement literal) return new CodePointRegex(Regex.Escape(f.String(literal, path + ".pattern.String")), f.File);
        throw f.Bad(path + ".pattern", "has neither Regex nor String");
    }

    private static char Replacement(JsonFields f, JsonElement owner, string path)
    {
        string replacement = f.OptionalString(owner, "replacement", path) ?? "\u2581";
        return replacement.Length == 1 ? replacement[0] : throw f.Bad(path + ".replacement", $"is \"{Shorten(replacement)}\", expected one character");
    }

    /// <summary>Metaspace's prepend_scheme; older files say add_prefix_space (true meaning "always").</summary>
    private static string PrependScheme(JsonFields f, JsonElement owner, string path)
    {
        if (f.OptionalString(owner, "prepend_scheme", path) is string scheme)
            return scheme is "always" or "first" or "never" ? scheme : throw f.Bad(path + ".prepend_scheme", $"is '{Shorten(scheme)}', expected always, first or never");
        return f.OptionalBool(owner, "add_prefix_space", path, true) ? "always" : "never";
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
