using System.Globalization;
using System.Text;

namespace Iwae.Datasets;

/// <summary>
/// The parser behind <see cref="CsvReader"/> and <see cref="AmatReader"/>: a table of numbers, one row a
/// line, every row the same width, blank lines ignored, CRLF or LF. It streams characters (no line is ever
/// held whole), so a binary file or a line of a gigabyte costs one field buffer, not a giant string.
/// </summary>
internal static class TextTable
{
    /// <summary>Longest field accepted; a number needs a few dozen characters.</summary>
    public const int MaxFieldChars = 4096;

    /// <summary>The DType text formats report: what numpy's loadtxt would give.</summary>
    public const string DType = "float64";

    /// <param name="path">The file.</param>
    /// <param name="separator">',' for CSV; null for fields separated by runs of spaces and tabs (.amat).</param>
    /// <param name="allowHeader">Whether a first line with a non-number is a header rather than an error.</param>
    public static (DataArray Data, string[]? Header) Read(string path, char? separator, bool allowHeader)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = DataFile.OpenRead(path);
        try
        {
            using var reader = new StreamReader(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            return new Parser(path, separator, allowHeader).Run(reader);
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"read error: {ex.Message}", ex);
        }
    }

    private static bool IsBlank(char c) => c is ' ' or '\t' or '\r' or '\f' or '\v';

    private sealed class Parser(string path, char? separator, bool allowHeader)
    {
        private readonly char[] _field = new char[MaxFieldChars];
        private int _fieldLength;
        private int _line = 1;
        private int _column;              // fields completed on this line
        private bool _lineHasSeparator;   // CSV: a comma seen on this line, so it is not blank
        private List<string>? _first = []; // the first non-blank line's fields, until it is known to be a header or data
        private int _width = -1;
        private int _widthLine;
        private string[]? _header;
        private float[] _values = new float[4096];
        private long _count;
        private readonly List<int> _lines = [];   // the line of each data row, for messages and `iwae score`

        public (DataArray, string[]?) Run(StreamReader reader)
        {
            var buffer = new char[1 << 16];
            int n;
            while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                for (int i = 0; i < n; i++) Feed(buffer[i]);
            }
            EndLine(); // a last line without a newline
            if (_width < 0) throw Error("no data: the file is empty or holds only blank lines");
            Array.Resize(ref _values, (int)_count);
            var data = new DataArray(Path.GetFileName(path), (int)(_count / _width), _width, _values, DType, Lines: [.. _lines]);
            return (data, _header);
        }

        private void Feed(char c)
        {
            if (c == '\n')
            {
                EndLine();
                _line++;
                return;
            }
            if (separator is char sep)
            {
                if (c == sep)
                {
                    EndField();
                    _lineHasSeparator = true;
                    return;
                }
            }
            else if (IsBlank(c))
            {
                if (_fieldLength > 0) EndField();
                return;
            }
            if (c == '\uFFFD' || (char.IsControl(c) && !IsBlank(c)))
                throw Error($"line {_line}, column {_column + 1}: {(c == '\uFFFD' ? "invalid UTF-8" : $"control character 0x{(int)c:X2}")}: not a text file");
            if (_fieldLength == MaxFieldChars)
                throw Error($"line {_line}, column {_column + 1}: field longer than {MaxFieldChars} characters");
            _field[_fieldLength++] = c;
        }

        private ReadOnlySpan<char> Field()
        {
            ReadOnlySpan<char> f = _field.AsSpan(0, _fieldLength);
            int start = 0, end = f.Length;
            while (start < end && IsBlank(f[start])) start++;
            while (end > start && IsBlank(f[end - 1])) end--;
            return f[start..end];
        }

        private void EndField()
        {
            ReadOnlySpan<char> text = Field();
            _fieldLength = 0;
            _column++;
            if (_first is not null)
            {
                _first.Add(new string(text));
                return;
            }
            if (text.IsEmpty) throw Error($"line {_line}, column {_column}: empty field");
            Add(Parse(text, _column));
        }

        private void EndLine()
        {
            if (separator is null)
            {
                if (_fieldLength > 0) EndField();
                if (_column == 0) return; // blank line
            }
            else
            {
                if (!_lineHasSeparator && Field().IsEmpty)
                {
                    _fieldLength = 0;
                    return; // blank line
                }
                EndField();
            }

            if (_first is not null) FirstLine(_first);
            else if (_column != _width)
                throw Error($"line {_line} has {_column} values, expected {_width} like {(_header is null ? "" : "the header on ")}line {_widthLine}");
            else _lines.Add(_line);
            _column = 0;
            _lineHasSeparator = false;
        }

        // A first line with a field that is not a number is a header (where allowed); otherwise it is data.
        private void FirstLine(List<string> fields)
        {
            _first = null;
            _width = fields.Count;
            _widthLine = _line;
            int notNumber = fields.FindIndex(f => f.Length > 0 && !double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
            if (notNumber >= 0 && allowHeader)
            {
                _header = fields.Select(Unquote).ToArray();
                return;
            }
            for (int i = 0; i < fields.Count; i++)
            {
                if (fields[i].Length == 0) throw Error($"line {_line}, column {i + 1}: empty field");
                Add(Parse(fields[i], i + 1));
            }
            _lines.Add(_line);
        }

        private static string Unquote(string name)
            => name.Length >= 2 && name[0] == '"' && name[^1] == '"' ? name[1..^1] : name;

        private float Parse(ReadOnlySpan<char> text, int column)
        {
            if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)) return v;
            string at = $"line {_line}, column {column}: {Show(text)}";
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) throw Error($"{at} is not a number");
            // A finite-looking literal that overflowed ("1e39") versus a literal NaN or infinity.
            if (text.ContainsAnyInRange('0', '9')) throw Error($"{at} is outside the float32 range");
            throw Error($"{at}: NaN and infinity are not accepted");
        }

        private void Add(float v)
        {
            if (_count == _values.Length)
            {
                if (_count == Array.MaxLength) throw Error($"more than {Array.MaxLength} values, the largest possible array");
                Array.Resize(ref _values, (int)Math.Min(Array.MaxLength, 2L * _values.Length));
            }
            _values[_count++] = v;
        }

        private static string Show(ReadOnlySpan<char> text)
        {
            var sb = new StringBuilder("'");
            foreach (char c in text.Length <= 40 ? text : text[..40]) sb.Append(char.IsControl(c) ? '?' : c);
            return sb.Append(text.Length <= 40 ? "'" : "...'").ToString();
        }

        private DataFormatException Error(string problem) => DataFormatException.At(path, problem);
    }
}
