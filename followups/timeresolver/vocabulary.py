"""Vocabulary data: every surface form a client may type, by the tag it stands for.

Pure tables, no logic; lexicon.py builds its indexes and the tokenizer over them.
"""

from __future__ import annotations

import re

# --- vocabulary: tag -> surface forms --------------------------------------------------------
# A tag may be several space-separated tags ("tonight" is "today evening").

VOCAB: dict[str, str] = {
    # prepositions, particles, connectors
    "at": "в во at",
    "on": "на on for",
    "in": "через чрез черз черес чз in",
    "within": "within during",
    "after": "после after afterwards",
    "before": "до перед раньше before until till til untill",
    "give": "дай дайте give gimme brb",  # "дайте пару дней подумать", "give me 10 mins"
    "still": "еще still",  # "ещё минут 20 и освобожусь"
    "by": "к ко by",
    "from": "с со от from since",
    "to": "по to",
    "between": "между between",
    "around": "около примерно приблизительно где-то где-нибудь ориентировочно around about "
    "approximately approx",
    "toward": "ближе под towards toward",
    "laterpost": "спустя hence",
    "ago": "назад ago",
    "or": "или либо or either otherwise",
    "if": "если if",
    "and": "и and",
    ",": "но а однако зато but however so",
    "not": "не not dont don't doesn't doesnt won't wont isn't isnt кроме except",
    "no": "нет no nope",
    "never": "никогда never",
    "more": "больше anymore again",
    "stop": "хватит прекратите прекрати перестаньте перестань stop quit",
    "optout": "отстаньте отстань отвали отписаться отписка отпишусь-ка unsubscribe spam спам "
    "blacklist",
    "unsub": "отпишите отпиши",
    "disturb": "беспокойте беспокоить тревожьте трогайте трогать дергайте дергать bother disturb",
    "interest": "интересно интересует интересна интересен interested interesting",
    "not interest": "неинтересно неинтересен неинтересна uninterested",
    "relevant": "актуально актуален актуальна relevant",
    "not relevant": "неактуально неактуален неактуальна irrelevant",
    "need": "надо нужно необходимо need",
    "thanks": "спасибо спс thanks thank thx",
    "rather": "лучше точнее вернее rather better actually instead",
    "than": "чем than",  # "лучше в пятницу, чем в понедельник": the second is the worse one
    "move": "перенести перенесем перенесите переносим переносится перенос перенесли push "
    "shift move "
    "reschedule postpone",  # "перенести с 16:00 на 18:00": the second is the time
    "also": "тоже также too",
    "ish": "ish",
    "me": "мне меня нам нас вам вас тебе тебя me us you",
    # "в 11 встреча" is a meeting of the client's own, "встретимся в 11" one with us
    "busy": "занят занята заняты занято никак отъезде отпадает плохо пас созвоны совещание "
    "работаю сплю болею bad crazy hectic swamped встреча совещания переговоры busy "
    "unavailable",
    "not convenient": "неудобно неудобен неудобна inconvenient",
    "convenient": "удобно удобнее удобен удобна удобны удобненько convenient",
    "free": "свободен свободна свободны освобожусь освободимся выходной free available",
    # "вернусь 25-го": back from a trip, which asks for no contact; "вернусь к вам" does
    "back": "вернусь вернемся вернется вернутся",
    # a time the client accepts, but weaker than a contact verb: no rescue for a booking
    "ok": "можно норм нормально подходит подойдет устроит устраивает вариант ок ok okay works best "
    "work good fine",
    "lets": "давайте давай го let's lets",  # a proposal: it covers its whole sentence
    "can": "могу смогу можем сможем получится выйдет успею успеем смог смогла смогли получилось "
    "успел успела успели can could",
    "not can": "can't cant cannot couldn't couldnt",
    "now": "сейчас щас ща now",
    "times": "раз раза разок time times",
    "other": "другой другое другую другие another other",
    "1": "a an",
    # units
    "min": "минута минуты минуту минут минутой минутку минутки минуток минуточку минуточек "
    "минутка мин м min mins minute minutes m",
    "hour": "час часа часов часу часик часика часиков часок часочек ч h hr hrs hour hours",
    "oclock": "o'clock oclock",
    "day": "день дней дн денек денька деньков деньке сутки суток day days",
    "dayg": "дня",
    "week": "неделя недели неделе неделю недель неделька недельку недельки нед week weeks wk wks",
    "month": "месяц месяца месяцев месяцу месяце месяцок месячишко мес month months mnth",
    "year": "год года году лет годик годика г year years yr yrs",
    "sec": "секунд секунды секунду секундочку сек sec secs second seconds",
    # days
    "today": "сегодня седня сегодняшний сегодняшнего сегодняшнему today tdy 2day todays",
    "tomorrow": "завтра завтрашний завтрашнего завтрашнему завтрашнюю завтрашнем tomorrow tmrw "
    "tmr tmrow tmw tmrrw 2moro 2morow 2morrow 2mrw tomoz tomorow tommorow tommorrow morrow",
    "dayafter": "послезавтра послезавтрашний",
    "yesterday": "вчера вчерашний вчерашнего yesterday yday",
    "daybefore": "позавчера",
    "today evening": "tonight tonite 2nite 2night",
    "wd1": "понедельник понедельника понедельнику понедельником понедельнике понедельники "
    "понедельникам пн пон пнд monday mondays mon",
    "wd2": "вторник вторника вторнику вторником вторнике вторники вторникам вт втор втр "
    "tuesday tuesdays tue tues",
    "wd3": "среда среду среды среде средой средам ср сред wednesday wednesdays wed weds",
    "wd4": "четверг четверга четвергу четвергом четверге четверги четвергам чт чтв четв "
    "thursday thursdays thu thur thurs",
    "wd5": "пятница пятницу пятницы пятнице пятницей пятницам пт пят пятн friday fridays fri",
    "wd6": "суббота субботу субботы субботе субботой субботам сб суб субб saturday saturdays sat",
    "wd7": "воскресенье воскресенья воскресенью воскресеньем воскресение вс вск воскр sunday "
    "sundays sun",
    "mo1": "январь января январе январю янв january jan",
    "mo2": "февраль февраля феврале февралю фев февр february feb",
    "mo3": "март марта марте марту мар march mar",
    "mo4": "апрель апреля апреле апрелю апр april apr",
    "mo5": "май мая мае маю may",
    "mo6": "июнь июня июне июню июн june jun",
    "mo7": "июль июля июле июлю июл july jul",
    "mo8": "август августа августе августу авг august aug",
    "mo9": "сентябрь сентября сентябре сентябрю сен сент september sep sept",
    "mo10": "октябрь октября октябре октябрю окт october oct",
    "mo11": "ноябрь ноября ноябре ноябрю ноя нояб november nov",
    "mo12": "декабрь декабря декабре декабрю дек december dec",
    # modifiers and parts
    "this": "этот эта это эту этой этом эти этих этим этого текущий текущей текущую текущем "
    "текущая this",
    "next": "следующий следующая следующее следующую следующей следующем следующего следующие "
    "следующих следующим след next nxt following",
    "last": "прошлый прошлая прошлое прошлую прошлой прошлом прошлого прошлые прошлых прошедшей "
    "прошедшую last previous",
    "nearest": "ближайший ближайшую ближайшая ближайшее ближайшей ближайшие ближайших coming "
    "upcoming",
    "weekend": "выходные выходных выходным выходными выхи выхах выходах уикенд уикенда уикэнд "
    "викенд weekend weekends wknd",
    "start": "начало начале начала началу start beginning begin early рано",
    "middle": "середина середине середину середины mid middle",
    "end": "конец конце конца концу end late поздно последний последняя последнее последнюю "
    "последней последних последние последнего последнем",
    "middle week": "midweek",
    "2 week": "fortnight fortnights",
    "day before": "накануне",
    "half": "пол половина половину половине половиной half",
    "half hour": "получаса",
    "quarter": "четверть четверти четвертью quarter",
    "without": "без",
    "past": "past",
    "date": "числа число числу числе числах",
    "1.5": "полтора полторы",
    "2": "пару пара пары парочку парочка couple пару-тройку пара-тройка пары-тройки",
    "several": "несколько нескольких few several",
    # parts of the day
    "morning": "утро утра утром утру утречком утречка утреца утрецом утр morning mornings morn "
    "mrng",
    "noon": "полдень полудня noon midday",
    "lunch": "обед обеда обеду обедом обеде обеденное обеденный обеденного lunch lunchtime",
    "afternoon": "днем afternoon afternoons arvo aft aftn",
    "evening": "вечер вечера вечеру вечером вечерком вечерочком вечерочка вечерка вечерку веч "
    "evening evenings eve evng",
    "night": "ночь ночи ночью ночкой ноч night overnight nite",
    "nights": "ночей nights",
    "midnight": "полночь полуночи midnight",
    "breakfast": "завтрак завтрака завтраку завтраком завтраке breakfast",
    "dinner": "ужин ужина ужину ужином ужине dinner supper",
    "eod": "eod cob",
    "am": "am",
    "pm": "pm",
    # vague
    "later": "позже попозже позднее попозжее потом later",
    "sometime": "как-нибудь когда-нибудь когда-то sometime someday зимой весной летом осенью "
    "весна весны весну лето зима зимы зиму осень осени майские рождество рождества рождеству "
    "christmas xmas пасхи пасха easter праздники праздников праздниках каникулы каникул "
    "каникулах будни будням weekdays",  # "в будни": no one day
    "soon": "скоро вскоре поскорее побыстрее срочно soon asap shortly urgent urgently",
    # counted things that are not times
    "cnt": "человек человека людей чел гостей гостя гость гости взрослых взрослый взрослые "
    "взрослого детей ребенка ребенок дети ребенком персон персоны спальни спален спальня "
    "спальнях комнат комнаты комната метров метра кв км километров минутах часах шагах ходьбы "
    "звезд звезды этаж этаже этажа процентов процента штук шт people persons person pax guests "
    "guest adults adult kids kid children child bedrooms bedroom br rooms room km meters stars "
    "floor percent",
    "cur": "руб рублей рубля долларов доллара доллар долл баксов бакса usd eur евро idr рупий "
    "рупии rp млн миллионов миллиона тыс тысяч тысячи k mln million thousand dollars dollar bucks "
    "euro rupiah",
    "contact": "msg ring follow talk chat meet meeting dm whatsapp wa telegram tg",
    # what happened, not a wish: "мы уже были у вас в марте"
    "reported": "wrote spoke talked chatted discussed был была были was were",
    "would": "бы б would",
    "event": "arrive arriving arrival arrives land landing fly flying flight flights book booked "
    "booking reservation reserve reserved stay staying villa villas trip tour holiday holidays "
    "vacation wedding depart departure leave leaving hotel bali ubud canggu seminyak visit gift "
    "gifts будем "
    "тур тура туре туры",
    # questions about the business or free dates: "вы работаете 20-го?", "свободные даты"
    "biz": "работаете работаешь работает даты датах dates цены цена цену ценах стоимость прайс "
    "price prices rates",
    # something else ends or holds until then: "договор действует до 31 декабря"
    "lapse": "действует действуют действителен действительна действительны истекает истекают "
    "истечет истек истекла заканчивается заканчиваются закончится закончатся кончается кончится "
    "оканчивается ends expires expire expiring expired expiry expiration valid",
    "": "the of во-первых во-вторых like типа",  # fillers: "in like 20 min"
}

# Several-word phrases, matched on normalised token texts (punctuation included).
PHRASES: dict[str, str] = {
    "ч / з": "in",
    "ч \\ з": "in",
    "в течение": "within",
    "в течении": "within",
    "на протяжении": "within",
    "не раньше": "from",
    "не ранее": "from",
    "not before": "from",
    "no earlier than": "from",
    "не позже": "by",
    "не позднее": "by",
    "no later than": "by",
    "not later than": "by",
    "в районе": "around",
    "ближе к": "toward",
    "после завтра": "dayafter",
    "day after tomorrow": "dayafter",
    "day before yesterday": "daybefore",
    "close of business": "eod",
    "end of business": "eod",
    "first thing": "morning",
    "после работы": "evening",
    "after work": "evening",
    "до работы": "morning",
    "before work": "morning",
    "рабочего дня": "dayg",
    "рабочей недели": "week",
    "working day": "day",
    "work day": "day",
    "в другой раз": "later",
    "another time": "later",
    "some other time": "later",
    "in a while": "later",
    "in a bit": "later",
    "a bit later": "later",
    "some time": "sometime",
    "в ближайшее время": "soon",
    "как можно скорее": "soon",
    "как можно раньше": "soon",
    "чем раньше": "soon",
    "чем быстрее": "soon",
    "чем скорее": "soon",
    "the sooner": "soon",
    "as soon as possible": "soon",
    "на днях": "sometime",
    "ближе к делу": "sometime",  # closer to the event: no time named
    "ближе к дате": "sometime",
    "closer to the date": "sometime",
    "closer to the time": "sometime",
    "новогодние": "",  # "после новогодних праздников" are the holidays, not 1 January
    "новогодних": "",
    "bank holiday": "",  # a day off, not a trip
    "public holiday": "",
    "с новым годом": "",  # greetings, not dates
    "с наступающим новым годом": "",
    "с наступающим": "",
    "с рождеством": "",
    "happy new year": "",
    "merry christmas": "",
    "добрый вечер": "",
    "доброе утро": "",
    "добрый день": "",
    "доброй ночи": "",
    "спокойной ночи": "",
    "good morning": "",
    "good afternoon": "",
    "good evening": "",
    "good night": "",
    "по бали": "zone=Asia/Makassar",
    "по балийскому времени": "zone=Asia/Makassar",
    "по балийскому": "zone=Asia/Makassar",
    "bali time": "zone=Asia/Makassar",
    "wita": "zone=Asia/Makassar",
    "по мск": "zone=Europe/Moscow",
    "по москве": "zone=Europe/Moscow",
    "по московскому времени": "zone=Europe/Moscow",
    "по московскому": "zone=Europe/Moscow",
    "мск": "zone=Europe/Moscow",
    "msk": "zone=Europe/Moscow",
    "moscow time": "zone=Europe/Moscow",
    "по киеву": "zone=Europe/Kyiv",
    "по киевскому времени": "zone=Europe/Kyiv",
    "kyiv time": "zone=Europe/Kyiv",
    "по джакарте": "zone=Asia/Jakarta",
    "jakarta time": "zone=Asia/Jakarta",
    "wib": "zone=Asia/Jakarta",
    "по дубаю": "zone=Asia/Dubai",
    "dubai time": "zone=Asia/Dubai",
    "по лондону": "zone=Europe/London",
    "london time": "zone=Europe/London",
    "utc": "zone=UTC",
    "gmt": "zone=UTC",
    "в рабочее время": "sometime",  # a wish with no time in it
    "в рабочие часы": "sometime",
    "during business hours": "sometime",
    "during working hours": "sometime",
    "в ближайший": "within",  # "в ближайший час", "в ближайшие 2 часа"
    "в ближайшие": "within",
    "late afternoon": "toward evening",
    "по вашему времени": "zone=Asia/Makassar",  # the business's clock
    "your time": "zone=Asia/Makassar",
    "по моему времени": "",
    "my time": "",
    "во сколько": "whattime",  # "во сколько выезд, в 12?" asks about the event
    "в какое время": "whattime",
    "what time": "whattime",
    "по местному времени": "",
    "по местному": "",
    "local time": "",
    "хотя нет": "rather",
    "если что": "or",  # "в понедельник, если что — во вторник": a fallback option
    "на следующей неделе": "on next week",
    "на следующей": "on next week",  # "не на этой неделе, а на следующей"
    "на той неделе": "on next week",  # colloquial; said of the past, the verb is a report
    "ноль ноль": "",  # "в пятнадцать ноль ноль" is 15:00
    "zero zero": "",
    "в первых числах": "at start",  # "в феврале, в первых числах"
    "в последних числах": "at end",
    "в это же время": "sametime",
    "во столько же": "sametime",
    "в то же время": "sametime",
    "в это время": "sametime",
    "на то же время": "sametime",
    "на это же время": "sametime",
    "at the same time": "sametime",
    "same time": "sametime",
    "in summer": "sometime",
    "in winter": "sometime",
    "in spring": "sometime",
    "in autumn": "sometime",
    "in the fall": "sometime",
    "после праздников": "sometime",
    "after the holidays": "sometime",
    "рассылки": "optout",
    "рассылку": "optout",
    "mailing list": "optout",
    "удалите мой номер": "optout",
    "удалите меня": "optout",
    "delete my number": "optout",
    "в любое время": "sometime",
    "в любой момент": "sometime",
    "в любой день": "sometime",
    "any day": "sometime",
    "когда угодно": "sometime",
    "any time": "sometime",
    "anytime": "sometime",
    "whenever": "sometime",
    # the client will be free at some point: a wish with no time in it
    "как освобожусь": "sometime",
    "когда освобожусь": "sometime",
    "как будет время": "sometime",
    "когда будет время": "sometime",
    "when i'm free": "sometime",
    "when i am free": "sometime",
    "when i have time": "sometime",
    "пару тройку": "2",
    "пара тройка": "2",
    "на встрече": "busy",
    "сегодня уже поздно": "today busy",  # "давайте завтра" follows
    "в дороге": "busy",
    "в самолете": "busy",
    "в пути": "busy",
    "на тренировке": "busy",
    "у врача": "busy",
    "в больнице": "busy",
    "на паре": "busy",
    "на уроке": "busy",
    "на созвоне": "busy",
    "drop me a line": "contact",
    "drop a line": "contact",
    "buzz me": "contact me",
    "у меня встреча": "busy",  # "в 3 у меня встреча": not a meeting with us
    "у меня встречи": "busy",
    "у меня созвон": "busy",
    "у меня звонок": "busy",
    "i have a meeting": "busy",
    "my meeting": "busy",
    "i have a call": "busy",
    "меня не будет": "busy",
    "нас не будет": "busy",
    "не на связи": "busy",
    "без связи": "busy",
    "связь плохая": "busy",
    "плохая связь": "busy",
    "нет связи": "busy",
    "без интернета": "busy",
    "вряд ли": "busy",
    "не очень": "not ok",
    "нельзя": "not ok",
    "на связи": "contact",
    "на совещании": "busy",
    "на работе": "busy",
    "за рулем": "busy",
    "in a meeting": "busy",
    "family time": "busy",  # "weekend is family time, early next week pls"
    "family day": "busy",
    "семейный день": "busy",
    "at work": "busy",
    "driving": "busy",
    "новый год": "newyear",
    "нового года": "newyear",
    "новым годом": "newyear",
    "новом году": "newyear",
    "новому году": "newyear",
    "new year": "newyear",
    "new year's": "newyear",
    "o clock": "oclock",
    "new year's eve": "31 mo12",
    "new years eve": "31 mo12",
    "christmas eve": "24 mo12",
    "boxing day": "26 mo12",
    "канун нового года": "31 mo12",
    "over lunch": "at lunch",
    "lunch time": "at lunch",
    "dinner time": "at dinner",
    "breakfast time": "at breakfast",
    "так что": ",",
    "early in the week": "start week",
    "later in the week": "end week",
    "late in the week": "end week",
    "early in the month": "start month",
    "later in the month": "end month",
    "late in the month": "end month",
    "over the weekend": "at weekend",
    "нг": "newyear",
    "в ближайшие дни": "sometime",
    "in the coming days": "sometime",
    "a few": "several",
    "a couple of": "2",
    "a couple": "2",
    "a fortnight": "2 week",
    "couple of": "2",
    "half an hour": "half hour",
    "right now": "now",
    "p . m .": "pm",
    "p . m": "pm",
    "p m": "pm",
    "a m": "am",
    "a . m .": "am",
    "a . m": "am",
    "do not": "not",
    "leave me alone": "optout",
    "remove me": "optout",
    "черный список": "optout",
    "black list": "optout",
    "день рождения": "event",
    "after that": "after this",
    "come back": "event",
    "check - in": "event",
    "чек - ин": "event",
    "чек - аут": "event",
    "check in": "event",
    "check - out": "event",
    "check out": "event",
    "mid -": "middle",
    "second half": "2th half",  # "second" alone is the unit
    "get back": "contact",
    "вернусь к вам": "contact",
    "вернемся к вам": "contact",
    "вернусь с ответом": "contact",
    "вернемся с ответом": "contact",
    "touch base": "contact",
    "get in touch": "contact",
    "hit me up": "contact",
}

# More clocks a client may name: "по <city>" (Russian dative), "<city> time", and abbreviations.
CITY_ZONES = {
    "Europe/Moscow": ("питеру петербургу спб казани сочи", ""),
    "Europe/Kaliningrad": ("калининграду", ""),
    "Europe/Samara": ("самаре", ""),
    "Asia/Yekaterinburg": ("екатеринбургу екб уфе перми челябинску тюмени", ""),
    "Asia/Omsk": ("омску", ""),
    "Asia/Novosibirsk": ("новосибирску нск", ""),
    "Asia/Krasnoyarsk": ("красноярску", ""),
    "Asia/Irkutsk": ("иркутску", ""),
    "Asia/Vladivostok": ("владивостоку", ""),
    "Europe/Minsk": ("минску", ""),
    "Asia/Almaty": ("алматы астане казахстану", ""),
    "Asia/Tashkent": ("ташкенту", ""),
    "Asia/Tbilisi": ("тбилиси", ""),
    "Asia/Yerevan": ("еревану", ""),
    "Asia/Baku": ("баку", ""),
    "Europe/Istanbul": ("стамбулу", "istanbul"),
    "Asia/Bangkok": ("бангкоку", "bangkok"),
    "Asia/Singapore": ("сингапуру", "singapore sgt"),
    "Asia/Shanghai": ("пекину китаю", "beijing"),
    "Europe/Berlin": ("берлину", "berlin"),
    "Europe/Kyiv": ("", "kiev kyiv"),
    "Europe/Paris": ("парижу", "paris"),
    "Europe/Warsaw": ("варшаве", ""),
    "America/New_York": ("нью-йорку", ""),
    "America/Chicago": ("чикаго", "chicago"),
    "America/Denver": ("денверу", "denver"),
    "America/Los_Angeles": ("лос-анджелесу", ""),
    "Asia/Kolkata": ("индии дели", "ist india"),
    "Asia/Tokyo": ("токио", "jst tokyo"),
    "Asia/Hong_Kong": ("гонконгу", "hkt"),
    "Australia/Sydney": ("сиднею", "sydney"),
    "Australia/Perth": ("перту", "perth awst"),
}
for _zone, (_ru, _en) in CITY_ZONES.items():
    for _name in _ru.split():
        PHRASES[f"по {_name.replace('-', ' - ')}"] = f"zone={_zone}"  # "нью - йорку" as split
    for _name in _en.split():
        PHRASES[_name if len(_name) <= 4 else f"{_name} time"] = f"zone={_zone}"

# An abbreviation names a fixed offset, summer or winter ("5pm CET" in July is UTC+1); the
# Etc zones count the other way round (Etc/GMT-1 is UTC+1).
_FIXED_OFFSETS = {
    **{"cet": 1, "cest": 2, "bst": 1, "eet": 2, "eest": 3, "wet": 0, "west": 1, "aest": 10},
    **{"aedt": 11, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6},
    **{"pst": -8, "pdt": -7},
}
for _name, _hours in _FIXED_OFFSETS.items():
    PHRASES[_name] = f"zone=Etc/GMT{-_hours:+d}" if _hours else "zone=UTC"
PHRASES["new york time"] = PHRASES["ny time"] = "zone=America/New_York"
# the US zones by name follow their summer time
PHRASES["et"] = PHRASES["eastern time"] = "zone=America/New_York"
PHRASES["central time"] = "zone=America/Chicago"
PHRASES["mountain time"] = "zone=America/Denver"
PHRASES["pacific time"] = "zone=America/Los_Angeles"
PHRASES["uk time"] = "zone=Europe/London"
PHRASES["sg time"] = "zone=Asia/Singapore"
PHRASES["по нашему времени"] = PHRASES["по нашему"] = PHRASES["our time"] = ""  # their own
for _city, _zone in (("москвы", "Moscow"), ("киева", "Kyiv"), ("лондона", "London")):
    PHRASES[f"по времени {_city}"] = f"zone=Europe/{_zone}"
PHRASES["по киевскому"] = "zone=Europe/Kyiv"
PHRASES["по лондонскому"] = PHRASES["по лондонскому времени"] = "zone=Europe/London"
PHRASES["los angeles time"] = PHRASES["la time"] = "zone=America/Los_Angeles"

# "завтра суббота, давайте в понедельник": saying what day it is names no contact time.
for _day in ("сегодня", "завтра", "вчера", "today is", "tomorrow is"):
    for _weekday in (
        *("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"),
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    ):
        if _day.isascii() == _weekday.isascii():
            PHRASES[f"{_day} {_weekday}"] = ""
            PHRASES[f"{_day} же {_weekday}"] = ""

# Verb stems: a word starting with one of these is a cue, whatever its ending.
CONTACT_STEMS = (
    "напиш",
    "написа",
    "пиши",
    "пишит",
    "писа",
    "переписыв",
    "свяж",
    "связ",
    "позвон",
    "перезвон",
    "перезван",
    "звон",
    "дозвон",
    "звяк",
    "брякн",
    "отзвон",
    "скиньт",
    "киньт",
    "созвон",
    "созван",
    "набер",
    "набра",
    "набир",
    "напомн",
    "спиш",
    "черкн",
    "чиркн",
    "маякн",
    "стукн",
    "пинган",
    "обсуд",
    "обсужд",
    "поговор",
    "говор",
    "общал",
    "общат",
    "ответ",
    "отвеч",
    "встрет",
    "встреч",
    "отпишусь",
    "отпишитесь",
    "сообщ",
    "writ",
    "text",
    "messag",
    "call",
    "contact",
    "reach",
    "remind",
    "email",
    "ping",
)
EVENT_STEMS = (
    "прилет",
    "прилеч",
    "прибыв",
    "прибыт",
    "прибуд",
    "приезж",
    "приед",
    "приезд",
    "заезж",
    "заед",
    "заезд",
    "заех",
    "засел",
    "въезд",
    "выезд",
    "выезж",
    "выед",
    "выех",
    "выселен",
    "отъезд",
    "отлет",
    "вылет",
    "улета",
    "улеч",
    "уезж",
    "уед",
    "бронир",
    "заброн",
    "поездк",
    "отдых",
    "отдохн",
    "виза",
    "визу",
    "пересадк",
    "аэропорт",
    "чекин",
    "чекаут",
    "поезд",
    "паром",
    "яхт",
    "дайвинг",
    "серфинг",
    "массаж",
    "ресторан",
    "столик",
    "путевк",
    "командировк",
    "конференц",
    "мероприят",
    "фотосесс",
    "вечеринк",
    "бронь",
    "брони",
    "отпуск",
    "свадьб",
    "подар",  # "подарок на 8 марта": the date is the occasion
    "свадеб",
    "церемон",
    "аренд",
    "байк",
    "скутер",
    "экскурс",
    "трансфер",
    "рейс",
    "самолет",
    "перелет",
    "вилл",
    "апарт",
    "бали",
    "убуд",
    "чангу",
    "семиньяк",
    "ночев",
    "проживан",
    "останов",
    "отел",
    "гостиниц",
    "arriv",
    "booking",
)
# A contact verb in the past tense ("писали", "созванивались", "called") reports an earlier
# contact rather than asking for one: tagged "reported", not "contact".
PAST_TENSE = re.compile(r"(?:[а-я](?:л|ла|ло|ли|лся|лась|лось|лись)|[a-z]ed)$")

# Number words. Cardinals in all cases that occur in time phrases; ordinals split by form:
# "Nth" (genitive/neuter, the forms used for dates and "половина десятого") and "Nord" (other).
# Cardinals: nominative (and accusative) forms / the other cases.
RU_CARDINALS = {
    0: "ноль / нуля ноля",
    1: "один одна одно одну / одного одной одному одним",
    2: "два две двое / двух двум двумя двоих",
    3: "три трое / трех трем тремя троих",
    4: "четыре / четырех четырем четырьмя",
    5: "пять / пяти пятью",
    6: "шесть / шести шестью",
    7: "семь / семи семью",
    8: "восемь / восьми восемью",
    9: "девять / девяти девятью",
    10: "десять / десяти десятью",
    11: "одиннадцать / одиннадцати одиннадцатью",
    12: "двенадцать / двенадцати двенадцатью",
    13: "тринадцать / тринадцати",
    14: "четырнадцать / четырнадцати",
    15: "пятнадцать / пятнадцати",
    16: "шестнадцать / шестнадцати",
    17: "семнадцать / семнадцати",
    18: "восемнадцать / восемнадцати",
    19: "девятнадцать / девятнадцати",
    20: "двадцать / двадцати",
    30: "тридцать / тридцати",
    40: "сорок / сорока",
    50: "пятьдесят / пятидесяти",
    60: "шестьдесят / шестидесяти",
}
RU_ORDINAL_STEMS = {
    1: "перв",
    2: "втор",
    4: "четверт",
    5: "пят",
    6: "шест",
    7: "седьм",
    8: "восьм",
    9: "девят",
    10: "десят",
    11: "одиннадцат",
    12: "двенадцат",
    13: "тринадцат",
    14: "четырнадцат",
    15: "пятнадцат",
    16: "шестнадцат",
    17: "семнадцат",
    18: "восемнадцат",
    19: "девятнадцат",
    20: "двадцат",
    30: "тридцат",
}
ORD_DATE_ENDINGS = ("ого", "ое", "ому")
ORD_OTHER_ENDINGS = ("ый", "ой", "ая", "ую", "ые", "ых", "ым", "ом")
EN_CARDINALS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen", "twenty"),
)
EN_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}
EN_ORDINALS = {
    word: value
    for value, word in enumerate(
        (
            *("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"),
            *("ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth"),
            *("sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"),
        ),
        start=1,
    )
    if word != "second"  # far more often the unit of time
}

ORDINAL_WORDS = frozenset(EN_ORDINALS) | {"second"}

# Words that only count as time words when the context supports them ("the sun", "may I").
WEAK = {"may", "march", "mar", "sat", "sun", "wed", "mon", "jan", "a", "an", *EN_ORDINALS}
WEAK_PREV_WORDS = {"maybe", "perhaps", "probably", "say"}  # "next week, maybe wed"
WEAK_PREV = {"on", "at", "by", "before", "after", "from", "to", "this", "next", "last", "or"}
WEAK_PREV |= {"am", "pm"}  # "845 a.m. wed"
NUMBER_TAG = re.compile(r"\d+(?:th)?")
WEAK_NEXT = re.compile(r"\d.*|mo\d+|am|pm|morning|afternoon|evening|night|at|hour|min|or")
# A weekday abbreviation also leans on a time of day after it ("mon. after lunch", "sat
# before noon"), on a clock time after a comma ("Mon, 10am"), and opens a sentence that
# accepts it ("Sat works for me").
WEEKDAY_NEXT = re.compile(r"after|before|around|by|toward|noon|lunch|dinner|breakfast|eod")
CLOCK_TAG = re.compile(r"\d{1,2}:\d\d")
ACCEPTING = {"ok", "convenient", "free"}

# A four-letter word is corrected only right after one of these ("после обда", "к вечру").
PREPOSITIONS = {"at", "on", "in", "after", "before", "by", "from", "to", "toward"}

# A "." after these is part of an abbreviation, not the end of a sentence.
ABBREVIATIONS = {
    "след",
    "нед",
    "мин",
    "сек",
    "ч",
    "г",
    "тыс",
    "руб",
    "дн",
    "мес",
    "пн",
    "вт",
    "ср",
    "чт",
    "пт",
    "сб",
    "вс",
    "пон",
    "втор",
    "сред",
    "четв",
    "пятн",
    "суб",
    "субб",
    "воскр",
    "янв",
    "фев",
    "февр",
    "мар",
    "апр",
    "июн",
    "июл",
    "авг",
    "сен",
    "сент",
    "окт",
    "ноя",
    "нояб",
    "дек",
    "веч",
    "утр",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "min",
    "mins",
    "hr",
    "hrs",
    "approx",
    "p",
    "a",
    "m",
}

# Real words one typo away from vocabulary: never "correct" them.
FUZZY_GUARD = {
    "очень",
    "среди",
    "минус",
    "ночую",
    "вечеря",
    "входные",
    "победа",
    "massage",
    "время",
    "бремя",
    "карта",  # "сим-карта" is no "марта"
    "карту",
    "карты",
}
# Tags that describe context rather than time; typos are not corrected towards them.
NO_FUZZY_TAGS = {
    "",
    "1",
    ",",
    "and",
    "or",
    "also",
    "busy",
    "can",
    "free",
    "back",
    "give",
    "still",
    "cnt",
    "contact",
    "convenient",
    "cur",
    "disturb",
    "event",
    "biz",
    "if",
    "interest",
    "ish",
    "lapse",
    "me",
    "more",
    "move",
    "need",
    "never",
    "no",
    "not",
    "not can",
    "not convenient",
    "not interest",
    "not relevant",
    "lets",
    "ok",
    "optout",
    "reported",
    "other",
    "rather",
    "relevant",
    "sec",
    "stop",
    "thanks",
    "times",
    "unsub",
    "whattime",
    "would",
}

# «сутки» is 24 hours from now ("in 24 hours"), not a calendar day at 10:00
FULL_DAYS = {"сутки", "суток", "sutki", "sutok"}
# "24/7 support": round the clock, not 24 July (unless a preposition makes it a date)
ROUND_THE_CLOCK = "24/7"
