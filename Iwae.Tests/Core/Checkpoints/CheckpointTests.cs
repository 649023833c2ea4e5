using System.Buffers.Binary;
using System.Text.Json;
using System.Text;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;

namespace Iwae.Tests.Core.Checkpoints;

[TestFixture]
public class CheckpointTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "iwae-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string FilePath(string name = "model.safetensors") => Path.Combine(_dir, name);

    private static readonly Dictionary<string, string> Meta = new()
    {
        ["format"] = "iwae.net/1",
        ["config"] = "{\"layers\": 1, \"hidden\": [200, 200], \"latent\": 50, \"note\": \"quotes \\\" and ünïcode\"}",
    };

    // Random bit patterns of every finite float class (subnormals, both zeros, the extremes), with the interesting ones
    // placed deliberately at the start. NaNs and infinities are refused on loading (Load_NonFiniteValue_...), so a random
    // pattern with an all-ones exponent has its top exponent bit cleared.
    private static float FiniteBits(uint bits) => BitConverter.UInt32BitsToSingle((bits & 0x7F800000) == 0x7F800000 ? bits & ~0x40000000u : bits);

    private static Parameter<float>[] MakeParameters(ulong seed)
    {
        var rng = new Rng(seed);
        (string Name, int Rows, int Cols)[] shapes = [("enc.scalar", 1, 1), ("enc.0.W", 3, 7), ("dec.0.W", 200, 50)];
        float[] special =
        [
            -0f, 0f, float.Epsilon, -float.Epsilon, BitConverter.Int32BitsToSingle(0x007FFFFF), BitConverter.Int32BitsToSingle(unchecked((int)0x80000001)),
            float.MaxValue, -float.MaxValue, 3.4e38f, -1e-38f, BitConverter.Int32BitsToSingle(0x7F7FFFFE), BitConverter.Int32BitsToSingle(unchecked((int)0x80800000)),
        ];
        var result = new Parameter<float>[shapes.Length];
        for (int k = 0; k < shapes.Length; k++)
        {
            var p = new Parameter<float>(shapes[k].Name, shapes[k].Rows, shapes[k].Cols);
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] = FiniteBits((uint)(rng.NextULong() >> 32));
            if (k == 0) s[0] = -0f;
            else special.AsSpan(0, Math.Min(special.Length, s.Length)).CopyTo(s);
            result[k] = p;
        }
        return result;
    }

    private static Parameter<float>[] ZerosLike(IReadOnlyList<Parameter<float>> ps) =>
        [.. ps.Select(p => new Parameter<float>(p.Name, p.Rows, p.Cols))];

    private static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }

    [Test]
    public void Parameters_WithOddShapesAndSpecialValues_RoundTripBitExactly()
    {
        var saved = MakeParameters(42);
        Checkpoint.Save(FilePath(), saved, Meta);

        var data = Checkpoint.Load(FilePath());
        var loaded = ZerosLike(saved);
        data.CopyTo(loaded);

        Assert.That(data.Metadata, Is.EquivalentTo(Meta));
        Assert.That(data.Optimizer, Is.Null);
        Assert.That(data.RngState, Is.Null);
        for (int k = 0; k < saved.Length; k++)
        {
            Assert.That(Bits(loaded[k].Value.Span), Is.EqualTo(Bits(saved[k].Value.Span)), saved[k].Name);
            Assert.That(data.Parameters[saved[k].Name].Shape, Is.EqualTo(new[] { saved[k].Rows, saved[k].Cols }));
        }
    }

    [Test]
    public void AdamAndRngState_RoundTrip()
    {
        var ps = MakeParameters(1);
        foreach (var p in ps) p.Value.Span.Fill(0.5f);
        var adam = new Adam<float>(ps, learningRate: 1e-3 * Math.Pow(10, -3.0 / 7), beta1: 0.99, beta2: 0.999, epsilon: 1e-4);
        var rng = new Rng(7);
        for (int step = 0; step < 3; step++)
        {
            foreach (var p in ps) rng.FillNormal(p.Grad.Span);
            adam.Step();
        }
        rng.NextULong();
        Checkpoint.Save(FilePath(), ps, Meta, adam, rng);

        var data = Checkpoint.Load(FilePath());
        var fresh = ZerosLike(ps);
        var adam2 = new Adam<float>(fresh, learningRate: 0.5, beta1: 0.99, beta2: 0.999, epsilon: 1e-4);
        var rng2 = new Rng(123);
        data.RestoreOptimizer(adam2);
        data.RestoreRng(rng2);

        Assert.That(adam2.StepCount, Is.EqualTo(3));
        Assert.That(BitConverter.SingleToInt32Bits(adam2.LearningRate), Is.EqualTo(BitConverter.SingleToInt32Bits(adam.LearningRate)));
        for (int i = 0; i < ps.Length; i++)
        {
            Assert.That(Bits(adam2.FirstMoment(i)), Is.EqualTo(Bits(adam.FirstMoment(i))));
            Assert.That(Bits(adam2.SecondMoment(i)), Is.EqualTo(Bits(adam.SecondMoment(i))));
        }
        Assert.That(rng2.GetState(), Is.EqualTo(rng.GetState()));
        Assert.That(data.Metadata.Keys, Has.None.StartsWith("optimizer."), "optimizer keys live in Optimizer, so Load -> Save works");
    }

    // Gradient of 0.5 |w - target|^2 plus noise from the run's generator, so the RNG state matters too.
    private static void SyntheticStep(Parameter<float>[] ps, Adam<float> adam, Rng rng)
    {
        foreach (var p in ps)
        {
            var w = p.Value.Span;
            var g = p.Grad.Span;
            for (int i = 0; i < w.Length; i++) g[i] = w[i] - 0.01f * (i % 13) + 0.1f * (float)rng.NextNormal();
        }
        adam.Step();
        adam.LearningRate *= 0.9f;
    }

    [Test]
    public void TrainingResumedFromCheckpoint_ContinuesBitIdentically()
    {
        var ps = MakeParameters(3);
        var init = new Rng(11);
        foreach (var p in ps) init.FillNormal(p.Value.Span);
        var adam = new Adam<float>(ps, learningRate: 1e-3, beta1: 0.99, beta2: 0.999, epsilon: 1e-4);
        var rng = new Rng(5);
        for (int i = 0; i < 3; i++) SyntheticStep(ps, adam, rng);
        Checkpoint.Save(FilePath(), ps, Meta, adam, rng);
        for (int i = 0; i < 2; i++) SyntheticStep(ps, adam, rng);

        var resumed = ZerosLike(ps);
        var adam2 = new Adam<float>(resumed, learningRate: 1e-3, beta1: 0.99, beta2: 0.999, epsilon: 1e-4);
        var rng2 = new Rng(999);
        var data = Checkpoint.Load(FilePath());
        data.CopyTo(resumed);
        data.RestoreOptimizer(adam2);
        data.RestoreRng(rng2);
        for (int i = 0; i < 2; i++) SyntheticStep(resumed, adam2, rng2);

        Assert.That(adam2.StepCount, Is.EqualTo(5));
        for (int k = 0; k < ps.Length; k++)
        {
            Assert.That(Bits(resumed[k].Value.Span), Is.EqualTo(Bits(ps[k].Value.Span)), ps[k].Name);
            Assert.That(Bits(adam2.FirstMoment(k)), Is.EqualTo(Bits(adam.FirstMoment(k))));
            Assert.That(Bits(adam2.SecondMoment(k)), Is.EqualTo(Bits(adam.SecondMoment(k))));
        }
        Assert.That(rng2.NextULong(), Is.EqualTo(rng.NextULong()));
    }

    [Test]
    public void File_HasSafetensorsLayout()
    {
        var ps = MakeParameters(9);
        var adam = new Adam<float>(ps);
        Checkpoint.Save(FilePath(), ps, Meta, adam, new Rng(3));

        byte[] bytes = File.ReadAllBytes(FilePath());
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "header padded to 8-byte alignment");
        Assert.That(8 + (long)n, Is.LessThanOrEqualTo(bytes.Length));
        string headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.That(headerText, Does.StartWith("{"));
        using var doc = JsonDocument.Parse(headerText);
        var root = doc.RootElement;
        long dataStart = 8 + (long)n, dataLength = bytes.Length - dataStart;

        var meta = root.GetProperty("__metadata__");
        Assert.That(meta.GetProperty("format").GetString(), Is.EqualTo("iwae.net/1"));
        Assert.That(meta.GetProperty("config").GetString(), Is.EqualTo(Meta["config"]));
        Assert.That(meta.GetProperty("optimizer.step").GetString(), Is.EqualTo("0"));

        var spans = new List<(long Begin, long End)>();
        foreach (var p in ps)
        {
            foreach (string name in new[] { p.Name, "optimizer.m." + p.Name, "optimizer.v." + p.Name })
            {
                var info = root.GetProperty(name);
                Assert.That(info.GetProperty("dtype").GetString(), Is.EqualTo("F32"), name);
                Assert.That(info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { p.Rows, p.Cols }), name);
                var off = info.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                Assert.That(off, Has.Length.EqualTo(2));
                Assert.That(off[1] - off[0], Is.EqualTo(4L * p.Rows * p.Cols), name);
                spans.Add((off[0], off[1]));
                if (name == p.Name)
                {
                    var raw = bytes.AsSpan((int)(dataStart + off[0]), (int)(off[1] - off[0]));
                    var expected = new int[p.Value.Length];
                    for (int i = 0; i < expected.Length; i++) expected[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]);
                    Assert.That(expected, Is.EqualTo(Bits(p.Value.Span)), "raw little-endian float bits");
                }
            }
        }
        var rngInfo = root.GetProperty("rng.state");
        Assert.That(rngInfo.GetProperty("dtype").GetString(), Is.EqualTo("U64"));
        Assert.That(rngInfo.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 4 }));
        var rngOff = rngInfo.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.That(rngOff, Is.EqualTo(new long[] { 0, 32 }), "8-byte dtypes first, so they are aligned");
        spans.Add((rngOff[0], rngOff[1]));

        Assert.That(root.EnumerateObject().Count(), Is.EqualTo(1 + 3 * ps.Length + 1));
        spans.Sort();
        long expectedBegin = 0;
        foreach (var (begin, end) in spans)
        {
            Assert.That(begin, Is.EqualTo(expectedBegin), "contiguous");
            expectedBegin = end;
        }
        Assert.That(expectedBegin, Is.EqualTo(dataLength), "covers the data section");
    }

    [Test]
    public void SafeTensors_TypedEntries_RoundTrip()
    {
        SafeTensorEntry[] entries =
        [
            SafeTensorEntry.FromF32("f32", [2, 2], [1f, -0f, float.NaN, float.Epsilon]),
            SafeTensorEntry.FromF64("f64", [3], [double.Epsilon, -0.0, 1e308]),
            SafeTensorEntry.FromI64("i64", [], [long.MinValue]),
            SafeTensorEntry.FromU64("u64", [1, 2], [ulong.MaxValue, 1]),
            SafeTensorEntry.FromF32("empty", [0, 5], []),
        ];
        SafeTensors.Write(FilePath(), null, entries);
        var file = SafeTensors.Read(FilePath());

        Assert.That(file.Metadata, Is.Empty);
        Assert.That(Bits(file.GetF32("f32", out var s32)), Is.EqualTo(Bits([1f, -0f, float.NaN, float.Epsilon])));
        Assert.That(s32, Is.EqualTo(new[] { 2, 2 }));
        Assert.That(file.GetF64("f64", out var s64).Select(BitConverter.DoubleToInt64Bits),
            Is.EqualTo(new[] { double.Epsilon, -0.0, 1e308 }.Select(BitConverter.DoubleToInt64Bits)));
        Assert.That(s64, Is.EqualTo(new[] { 3 }));
        Assert.That(file.GetI64("i64", out var si), Is.EqualTo(new[] { long.MinValue }));
        Assert.That(si, Is.Empty);
        Assert.That(file.GetU64("u64", out _), Is.EqualTo(new[] { ulong.MaxValue, 1UL }));
        Assert.That(file.GetF32("empty", out var se), Is.Empty);
        Assert.That(se, Is.EqualTo(new[] { 0, 5 }));
        Assert.That(() => file.GetF32("absent", out _), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains("missing tensor 'absent'"));
        var ex = Assert.Throws<CheckpointFormatException>(() => file.GetF32("u64", out _));
        Assert.That(ex.Message, Does.Contain("model.safetensors").And.Contain("u64"));
    }

    // --- malformed files -------------------------------------------------------------------------------

    private static byte[] Raw(string header, int dataBytes, ulong? headerLength = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    private static string F32(string name, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    private static IEnumerable<TestCaseData> MalformedFiles()
    {
        TestCaseData Case(string name, byte[] bytes, string expected) => new TestCaseData(bytes, expected).SetArgDisplayNames(name);

        yield return Case("shorter than 8 bytes", [1, 2, 3], "shorter than the 8-byte header length");
        yield return Case("empty file", [], "shorter than the 8-byte header length");
        yield return Case("header length beyond the file", Raw("{}", 0, headerLength: 1000), "larger than the 2 bytes");
        yield return Case("header length over 100 MB", Raw("{}", 0, headerLength: 200_000_000), "100 MB");
        yield return Case("header not JSON", Raw("{\"w\": ", 0), "not valid JSON");
        yield return Case("header empty", Raw("", 4), "not valid JSON");
        yield return Case("header not UTF-8", Raw("{\"\u00e9\":1}", 0).Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray(), "not valid UTF-8");
        yield return Case("header an array", Raw("[1, 2]", 0), "not an object");
        yield return Case("entry not an object", Raw("{\"w\": 3}", 0), "tensor 'w': entry is a JSON Number");
        yield return Case("metadata value not a string", Raw("{\"__metadata__\":{\"a\":1}}", 0), "metadata 'a'");
        yield return Case("duplicate key", Raw("{" + F32("w", "[1]", 0, 4) + "," + F32("w", "[1]", 0, 4) + "}", 4), "'w' twice");
        yield return Case("unknown dtype", Raw("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "unknown dtype 'F33'");
        yield return Case("missing dtype", Raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'dtype' is missing");
        yield return Case("negative dimension", Raw("{" + F32("w", "[-1]", 0, 4) + "}", 4), "not a dimension");
        yield return Case("shape does not match span", Raw("{" + F32("w", "[2,3]", 0, 20) + "}", 20), "needs 24 bytes");
        yield return Case("huge shape", Raw("{" + F32("w", "[2147483647,2147483647,2147483647]", 0, 4) + "}", 4), "needs more");
        yield return Case("offsets out of range", Raw("{" + F32("w", "[2]", 0, 8) + "}", 4), "out of range");
        yield return Case("offsets reversed", Raw("{" + F32("w", "[1]", 8, 4) + "}", 8), "end before");
        yield return Case("offsets not two", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), "'data_offsets' is missing");
        yield return Case("overlapping", Raw("{" + F32("a", "[2]", 0, 8) + "," + F32("b", "[2]", 4, 12) + "}", 12), "overlap");
        yield return Case("gap", Raw("{" + F32("a", "[1]", 0, 4) + "," + F32("b", "[1]", 8, 12) + "}", 12), "gap of 4 bytes");
        yield return Case("trailing bytes", Raw("{" + F32("a", "[1]", 0, 4) + "}", 8), "cover 4 bytes but the data section has 8");
    }

    [TestCaseSource(nameof(MalformedFiles))]
    public void Read_MalformedFile_ThrowsWithFileName(byte[] bytes, string expected)
    {
        string path = FilePath("bad.safetensors");
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<CheckpointFormatException>(() => SafeTensors.Read(path));
        Assert.That(ex.Message, Does.StartWith(path + ": ").And.Contain(expected));
        Assert.That(ex.Message, Does.Not.Contain("\n"));
        Assert.That(ex.FilePath, Is.EqualTo(path));
        Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path));
    }

    private static IEnumerable<TestCaseData> InconsistentCheckpoints()
    {
        TestCaseData Case(string name, byte[] bytes, string expected) => new TestCaseData(bytes, expected).SetArgDisplayNames(name);
        const string u64 = "\"rng.state\":{\"dtype\":\"U64\",\"shape\":[4],\"data_offsets\":[0,32]}";

        yield return Case("rng state wrong dtype", Raw("{\"rng.state\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]}}", 32), "expected U64 [4]");
        yield return Case("rng state all zeros", Raw("{" + u64 + "}", 32), "all zeros");
        yield return Case("parameter not F32", Raw("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "'w' is F64, expected F32");
        yield return Case("moments without step", Raw("{" + F32("w", "[1]", 0, 4) + "," + F32("optimizer.m.w", "[1]", 4, 8) + "," + F32("optimizer.v.w", "[1]", 8, 12) + "}", 12), "without metadata 'optimizer.step'");
        yield return Case("moment without partner", Raw("{\"__metadata__\":{\"optimizer.step\":\"1\",\"optimizer.lr\":\"0.1\",\"optimizer.beta1\":\"0.9\",\"optimizer.beta2\":\"0.9\",\"optimizer.eps\":\"0.1\"},"
            + F32("w", "[1]", 0, 4) + "," + F32("optimizer.m.w", "[1]", 4, 8) + "}", 8), "no partner 'optimizer.v.w'");
        yield return Case("step not a number", Raw("{\"__metadata__\":{\"optimizer.step\":\"x\"}}", 0), "'optimizer.step' = 'x'");
    }

    [TestCaseSource(nameof(InconsistentCheckpoints))]
    public void Load_InconsistentCheckpoint_ThrowsWithFileName(byte[] bytes, string expected)
    {
        string path = FilePath("bad.safetensors");
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.That(ex.Message, Does.StartWith(path + ": ").And.Contain(expected));
    }

    private static IEnumerable<TestCaseData> NonFiniteValues()
    {
        TestCaseData Case(string name, string tensor, int index, float value, string expected) => new TestCaseData(tensor, index, value, expected).SetArgDisplayNames(name);
        yield return Case("NaN weight", "enc.0.W", 9, float.NaN, "tensor 'enc.0.W' holds NaN at [1,2]; weights must be finite");
        yield return Case("infinite weight", "dec.0.W", 50 * 199 + 49, float.PositiveInfinity, "tensor 'dec.0.W' holds Infinity at [199,49]; weights must be finite");
        yield return Case("NaN with payload in a first moment", "optimizer.m.enc.scalar", 0, BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001)),
            "tensor 'optimizer.m.enc.scalar' holds NaN at [0,0]; optimizer state must be finite");
        yield return Case("infinite second moment", "optimizer.v.enc.0.W", 20, float.NegativeInfinity, "tensor 'optimizer.v.enc.0.W' holds -Infinity at [2,6]; optimizer state must be finite");
    }

    [TestCaseSource(nameof(NonFiniteValues))]
    public void Load_NonFiniteValue_ThrowsNamingFileTensorAndPosition(string tensor, int index, float value, string expected)
    {
        var ps = MakeParameters(6);
        var adam = new Adam<float>(ps, learningRate: 1e-3);
        Checkpoint.Save(FilePath(), ps, Meta, adam, new Rng(1));
        var file = SafeTensors.Read(FilePath());
        var entries = file.Entries.Select(e =>
        {
            if (e.Name != tensor) return e;
            var v = e.ToF32();
            v[index] = value;
            return SafeTensorEntry.FromF32(e.Name, e.Shape, v);
        }).ToArray();
        SafeTensors.Write(FilePath("bad.safetensors"), file.Metadata, entries);

        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(FilePath("bad.safetensors")))!;
        Assert.That(ex.Message, Is.EqualTo(FilePath("bad.safetensors") + ": " + expected));
    }

    [Test]
    public void Load_ManyNonFiniteValues_NamesTheFirstAndCountsTheRest()
    {
        var w = new Parameter<float>("w", 3, 4);
        w.Value.Span[5] = float.NaN;
        w.Value.Span[7] = float.PositiveInfinity;
        w.Value.Span[11] = float.NaN;
        Checkpoint.Save(FilePath(), [w], Meta);
        Assert.That(() => Checkpoint.Load(FilePath()), Throws.TypeOf<CheckpointFormatException>()
            .With.Message.EqualTo(FilePath() + ": tensor 'w' holds NaN at [1,1] (and 2 more non-finite values); weights must be finite"));
    }

    [TestCase(new byte[] { (byte)'P', (byte)'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0 }, "a zip archive")]
    [TestCase(new byte[] { 0x80, 2, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8 }, "a pickle")]
    public void Read_FileThatTorchSaveWrote_SaysSoAndHowToWriteSafetensors(byte[] start, string what)
    {
        string path = FilePath("model.pt");
        File.WriteAllBytes(path, [.. start, .. new byte[100]]);
        Assert.That(() => SafeTensors.Read(path), Throws.TypeOf<CheckpointFormatException>().With.Message.EqualTo(
            $"{path}: is {what}, as torch.save writes, not a safetensors file; in Python, write the state_dict with safetensors.torch.save_file (docs/interop.md)"));
    }

    [Test]
    public void Load_MissingFile_ThrowsNamingPath()
    {
        string path = FilePath("nope.safetensors");
        var ex = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.That(ex.Message, Is.EqualTo(path + ": file not found"));
        string inMissingFolder = Path.Combine(_dir, "missing", "x.safetensors");
        Assert.That(() => SafeTensors.Read(inMissingFolder), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains(inMissingFolder));
    }

    [Test]
    public void CopyTo_MissingTensor_ThrowsNamingItAndChangesNothing()
    {
        var ps = MakeParameters(2);
        Checkpoint.Save(FilePath(), ps[..2], Meta);
        var data = Checkpoint.Load(FilePath());
        var target = ZerosLike(ps);

        var ex = Assert.Throws<CheckpointFormatException>(() => data.CopyTo(target));
        Assert.That(ex.Message, Does.Contain("model.safetensors").And.Contain("missing tensor 'dec.0.W'"));
        Assert.That(target.All(p => Bits(p.Value.Span).All(b => b == 0)), "all checks happen before any copy");
    }

    [Test]
    public void CopyTo_WrongShape_ThrowsNamingTensorAndBothShapes()
    {
        var ps = MakeParameters(2);
        Checkpoint.Save(FilePath(), ps, Meta);
        var data = Checkpoint.Load(FilePath());
        Parameter<float>[] target = [new("enc.scalar", 1, 1), new("enc.0.W", 7, 3), new("dec.0.W", 200, 50)];

        var ex = Assert.Throws<CheckpointFormatException>(() => data.CopyTo(target));
        Assert.That(ex.Message, Does.Contain("model.safetensors").And.Contain("'enc.0.W'").And.Contain("[3,7]").And.Contain("[7,3]"));
        Assert.That(BitConverter.SingleToInt32Bits(target[0].Value[0, 0]), Is.Zero);
    }

    [Test]
    public void Restore_WithoutSavedState_OrOtherHyperparameters_Throws()
    {
        var ps = MakeParameters(4);
        Checkpoint.Save(FilePath("plain.safetensors"), ps, Meta);
        var plain = Checkpoint.Load(FilePath("plain.safetensors"));
        Assert.That(() => plain.RestoreOptimizer(new Adam<float>(ps)), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains("plain.safetensors").And.Message.Contains("optimizer"));
        Assert.That(() => plain.RestoreRng(new Rng(1)), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains("rng.state"));

        Checkpoint.Save(FilePath(), ps, Meta, new Adam<float>(ps, beta1: 0.99));
        var data = Checkpoint.Load(FilePath());
        Assert.That(() => data.RestoreOptimizer(new Adam<float>(ps, beta1: 0.9)), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains("beta1"));
        var partial = new Adam<float>([new Parameter<float>("other", 2, 2)], beta1: 0.99);
        Assert.That(() => data.RestoreOptimizer(partial), Throws.TypeOf<CheckpointFormatException>().With.Message.Contains("'optimizer.m.other'"));
    }

    [Test]
    public void Save_ReservedOrDuplicateNames_Throw()
    {
        var ps = MakeParameters(5);
        Assert.That(() => Checkpoint.Save(FilePath(), [new Parameter<float>("rng.state", 1, 4)], Meta), Throws.ArgumentException);
        Assert.That(() => Checkpoint.Save(FilePath(), [ps[0], ps[0]], Meta), Throws.ArgumentException);
        Assert.That(() => Checkpoint.Save(FilePath(), ps, new Dictionary<string, string> { ["optimizer.lr"] = "1" }), Throws.ArgumentException);
        Assert.That(() => Checkpoint.Save(FilePath(), ps[..1], Meta, new Adam<float>(ps)), Throws.ArgumentException);
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    // --- atomic writes ---------------------------------------------------------------------------------

    [Test]
    public void Save_OverExistingFile_ReplacesItAndLeavesNoTempFiles()
    {
        Checkpoint.Save(FilePath(), MakeParameters(1), Meta);
        var second = MakeParameters(2);
        Checkpoint.Save(FilePath(), second, Meta, new Adam<float>(second), new Rng(1));

        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EqualTo(new[] { FilePath() }));
        var target = ZerosLike(second);
        Checkpoint.Load(FilePath()).CopyTo(target);
        Assert.That(Bits(target[2].Value.Span), Is.EqualTo(Bits(second[2].Value.Span)));
    }

    [Test]
    public void Save_IntoMissingFolder_ThrowsAndLeavesNothing()
    {
        string path = Path.Combine(_dir, "missing", "model.safetensors");
        Assert.That(() => Checkpoint.Save(path, MakeParameters(1), Meta), Throws.InstanceOf<IOException>());
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public void Save_WhenFinalRenameFails_DeletesTempFileAndKeepsTarget()
    {
        // The target is a non-empty folder: the temp file is written, then the rename over it fails.
        string path = FilePath();
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep.txt"), "x");

        Assert.That(() => Checkpoint.Save(path, MakeParameters(1), Meta), Throws.Exception);
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EqualTo(new[] { path }));
        Assert.That(File.ReadAllText(Path.Combine(path, "keep.txt")), Is.EqualTo("x"));
    }
}
