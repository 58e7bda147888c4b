/*
 * vsprintf.c - formatted output into a buffer.
 *
 * Supported conversions: %d %i %u %x %X %o %c %s %p %%, with the flags
 * '-' (left-justify) and '0' (zero-pad), a field width (digits or '*'),
 * a precision for %s, and the length modifiers 'l' and 'h' (ignored:
 * int and long are both 32 bits here; 'll' is not supported).
 *
 * Contract (as in C99): vsnprintf() never writes more than @size bytes,
 * always NUL-terminates when @size > 0, and returns the length the full
 * output would have had.
 */
#include <linux/kernel.h>
#include <linux/string.h>

struct out {
	char *buf;
	size_t size;
	size_t len;		/* characters produced so far */
};

static void emit(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		emit(o, c);
}

/* Emit @s (of length @n) in a field of @width. */
static void field(struct out *o, const char *s, int n, int width,
		  int left, char padc)
{
	int i;

	if (!left)
		pad(o, padc, width - n);
	for (i = 0; i < n; i++)
		emit(o, s[i]);
	if (left)
		pad(o, ' ', width - n);
}

static void number(struct out *o, unsigned long v, unsigned int base,
		   int negative, int upper, int width, int left, int zero)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[12];
	int n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + negative;

	if (!left && !zero)
		pad(o, ' ', width - len);
	if (negative)
		emit(o, '-');
	if (!left && zero)
		pad(o, '0', width - len);
	while (n)
		emit(o, tmp[--n]);
	if (left)
		pad(o, ' ', width - len);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int left = 0, zero = 0, width = 0, prec = -1;
		const char *s;
		long sv;

		if (*fmt != '%') {
			emit(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {		/* flags */
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else
				break;
		}
		if (*fmt == '*') {		/* width */
			width = va_arg(args, int);
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {		/* precision */
			fmt++;
			prec = 0;
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'h')	/* length: all 32-bit */
			fmt++;

		switch (*fmt) {
		case 'd':
		case 'i':
			sv = va_arg(args, long);
			if (sv < 0)
				number(&o, -(unsigned long)sv, 10, 1, 0, width, left, zero);
			else
				number(&o, sv, 10, 0, 0, width, left, zero);
			break;
		case 'u':
			number(&o, va_arg(args, unsigned long), 10, 0, 0, width, left, zero);
			break;
		case 'x':
		case 'X':
			number(&o, va_arg(args, unsigned long), 16, 0, *fmt == 'X',
			       width, left, zero);
			break;
		case 'o':
			number(&o, va_arg(args, unsigned long), 8, 0, 0, width, left, zero);
			break;
		case 'p':
			number(&o, (unsigned long) va_arg(args, void *), 16, 0, 0,
			       8, 0, 1);
			break;
		case 'c': {
			char c = (char) va_arg(args, int);

			field(&o, &c, 1, width, left, ' ');
			break;
		}
		case 's':
			s = va_arg(args, const char *);
			if (!s)
				s = "(null)";
			field(&o, s, prec >= 0 ? (int)strnlen(s, prec) : (int)strlen(s),
			      width, left, ' ');
			break;
		case '%':
			emit(&o, '%');
			break;
		case '\0':
			fmt--;			/* lone '%' at the end */
			break;
		default:			/* unknown: print it verbatim */
			emit(&o, '%');
			emit(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int r;

	va_start(args, fmt);
	r = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return r;
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list args;
	int r;

	va_start(args, fmt);
	r = vsnprintf(buf, ~0U >> 1, fmt, args);
	va_end(args);
	return r;
}
