"""Intents about bank cards: losing one, activating one, the ATM keeping one, using one abroad, credit cards."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent

CARD_INTENTS: tuple[Intent, ...] = (
    Intent(
        id="card_loss",
        name={"zh": "银行卡挂失与冻结", "en": "Report a lost card"},
        questions={
            "zh": ("我的{card}丢了，怎么挂失？", "{card}找不到了，能先冻结吗？", "银行卡丢了怎么办？",
                   "怎么通过{channel}挂失{card}？", "卡被偷了，需要马上冻结。", "{card}临时挂失以后还能解冻吗？",
                   "挂失{card}一定要去网点吗？", "钱包丢了，里面有{card}，该怎么处理？"),
            "en": ("I lost my {card}. How do I report it?", "How can I freeze my {card} right away?",
                   "My wallet was stolen with my {card} inside. What should I do?",
                   "Can I report a lost card through {channel}?",
                   "Do I need to visit a branch to report a lost {card}?",
                   "Can I unfreeze my {card} after a temporary freeze?",
                   "I can't find my bank card anywhere. Please block it.",
                   "What's the fastest way to block a lost card?"),
        },
        answer={
            "zh": "您可以通过兰亭银行手机银行“卡片管理-挂失”、拨打客服热线95386或前往任一网点办理挂失，"
                  "挂失后卡片立即冻结。临时挂失有效期为5天，如需补卡，请在此期间携带本人有效身份证件到网点"
                  "办理正式挂失。找回卡片后，可在手机银行或网点解除挂失。",
            "en": "You can report the card through Card Services > Report Loss in the Lanting Bank app, by "
                  "calling our hotline 95386, or at any branch; the card is frozen immediately. A temporary "
                  "report lasts 5 days. To get a replacement, bring your valid ID to a branch within that "
                  "time to make the report permanent. If you find the card, you can unfreeze it in the app "
                  "or at a branch.",
        },
        facts={
            "zh": ("兰亭银行{city}分行提醒：{card}丢失后请第一时间挂失，挂失前被盗刷的损失可能难以追回。",
                   "客户可通过{channel}办理{card}的7×24小时临时挂失。",
                   "正式挂失并补办新卡时，需携带本人有效身份证件，补卡工本费按现行服务价目表收取。"),
            "en": ("Lanting Bank {city} Branch reminds customers to report a lost {card} at once, as losses "
                   "before the report may be hard to recover.",
                   "A lost {card} can be frozen around the clock through {channel}.",
                   "To replace a lost card, bring valid ID to a branch; the replacement fee follows the "
                   "current price list."),
        },
    ),
    Intent(
        id="card_activation",
        name={"zh": "新卡激活", "en": "Activate a new card"},
        questions={
            "zh": ("新办的{card}怎么激活？", "刚收到{card}，要怎么开卡？", "{card}能在{channel}上激活吗？",
                   "新卡没激活能用吗？", "激活{card}需要去柜台吗？", "补办的新卡要重新激活吗？",
                   "信用卡寄到了，激活步骤是什么？"),
            "en": ("How do I activate my new {card}?", "I just received my {card}. How do I start using it?",
                   "Can I activate my {card} through {channel}?", "Can I use a new card before activating it?",
                   "Do I have to go to a counter to activate my {card}?",
                   "Does a replacement card need to be activated again?",
                   "My credit card arrived in the post. What are the activation steps?"),
        },
        answer={
            "zh": "新卡可在兰亭银行手机银行“卡片管理-激活新卡”中激活，按提示核对身份信息并设置交易密码即可；"
                  "也可拨打客服热线95386或到网点柜台激活。未激活的卡片无法消费和取现，补办的新卡同样需要激活。",
            "en": "You can activate a new card in the Lanting Bank app under Card Services > Activate Card: "
                  "confirm your identity and set a transaction PIN. You can also call 95386 or visit a branch "
                  "counter. Cards cannot be used until activated, and replacement cards need activating too.",
        },
        facts={
            "zh": ("为保障资金安全，兰亭银行寄送的新卡均处于未激活状态，请客户本人收到后及时激活。",
                   "自{date}起，{card}激活后可在{channel}中直接设置交易密码。"),
            "en": ("For safety, every card Lanting Bank sends by post arrives inactive and must be activated by "
                   "the cardholder.",
                   "From {date}, customers can set the PIN of a new {card} in {channel} right after activation."),
        },
    ),
    Intent(
        id="atm_card_retained",
        name={"zh": "ATM吞卡", "en": "Card retained by an ATM"},
        questions={
            "zh": ("ATM把我的卡吞了怎么办？", "在{city}的取款机上被吞卡了，怎么取回？", "取款机吞卡了，卡里的钱安全吗？",
                   "ATM吞卡后多久能拿回来？", "在别的银行ATM上吞卡了怎么处理？", "取钱的时候{card}被机器吞了。",
                   "吞卡后要不要先挂失？"),
            "en": ("The ATM swallowed my card. What should I do?",
                   "An ATM in {city} kept my {card}. How do I get it back?",
                   "My card got stuck in the cash machine. Is my money safe?",
                   "How long does it take to get a card back from an ATM?",
                   "Another bank's ATM kept my {card}. What now?",
                   "The machine took my {card} while I was withdrawing cash.",
                   "Should I report my card lost if the ATM kept it?"),
        },
        answer={
            "zh": "请先记下ATM所在地址和设备编号，并拨打客服热线95386说明情况，必要时可先办理临时挂失。"
                  "如是兰亭银行的ATM，通常可在2个工作日后携带本人身份证件到该ATM所属网点领回；"
                  "如是他行ATM，建议直接挂失并补办新卡。吞卡不会影响卡内资金安全。",
            "en": "Please note the ATM's address and machine number and call our hotline 95386; you can freeze "
                  "the card temporarily if you wish. If it is a Lanting Bank ATM, you can usually collect the "
                  "card with your ID from the branch that runs the machine after 2 working days. If it belongs "
                  "to another bank, we suggest reporting the card lost and getting a replacement. Your money "
                  "stays safe.",
        },
        facts={
            "zh": ("兰亭银行{city}分行提醒：ATM吞卡后请勿离开太久，也不要接受陌生人“帮忙取卡”。",
                   "被吞的卡片由ATM所属网点保管，逾期未领取的将统一销毁。"),
            "en": ("Lanting Bank {city} Branch warns customers never to accept help from strangers when an ATM "
                   "keeps their card.",
                   "Cards kept by an ATM are held by the branch that runs it and destroyed if not collected."),
        },
    ),
    Intent(
        id="overseas_card_use",
        name={"zh": "境外用卡", "en": "Using cards abroad"},
        questions={
            "zh": ("去{country}旅游，{card}能刷吗？", "在{country}取现有手续费吗？", "出国前要开通境外交易吗？",
                   "{card}在{country}能直接消费吗？", "境外刷卡的汇率怎么算？", "下个月去{country}，卡需要做什么设置？",
                   "在{country}用{card}取钱一天能取多少？"),
            "en": ("Can I use my {card} in {country}?", "Are there fees for withdrawing cash in {country}?",
                   "Do I need to turn on overseas payments before travelling?",
                   "Will my {card} work for shopping in {country}?",
                   "What exchange rate applies when I pay by card abroad?",
                   "I'm going to {country} next month. Do I need to set anything up on my card?",
                   "How much cash can I withdraw per day in {country} with my {card}?"),
        },
        answer={
            "zh": "带有银联、Visa或Mastercard标识的兰亭银行卡可在境外使用，出行前请在手机银行“卡片管理-境外交易”"
                  "中开通境外支付。境外消费按卡组织当日汇率折算入账，境外ATM取现每笔收取12元手续费，"
                  "借记卡境外取现每日累计不超过等值1万元人民币。",
            "en": "Lanting Bank cards with the UnionPay, Visa or Mastercard logo work abroad; before you travel, "
                  "turn on overseas payments in the app under Card Services > Overseas Transactions. Purchases "
                  "are converted at the card network's rate of the day. Each overseas ATM withdrawal costs "
                  "12 yuan, and debit cards can withdraw up to the equivalent of 10,000 yuan per day abroad.",
        },
        facts={
            "zh": ("出境旅游旺季将至，兰亭银行提醒客户出行前开通{card}境外支付功能，并保管好卡片和密码。",
                   "在{country}使用银联卡消费可享受部分商户优惠，具体以活动页面为准。"),
            "en": ("With the travel season approaching, Lanting Bank reminds customers to enable overseas "
                   "payments on their {card} before leaving.",
                   "UnionPay cardholders get discounts at selected merchants in {country}; see the offer page "
                   "for details."),
        },
    ),
    Intent(
        id="credit_card_bill",
        name={"zh": "信用卡账单与还款", "en": "Credit card bill and repayment"},
        questions={
            "zh": ("信用卡账单在哪里查？", "这个月信用卡最低还款是多少？", "信用卡怎么设置自动还款？",
                   "信用卡还款日过了一天会影响征信吗？", "能用{channel}还信用卡吗？", "信用卡账单可以分期吗？",
                   "我的信用卡账单日是哪天？", "信用卡逾期了怎么办？",
                   "怎么在{channel}上查信用卡账单？", "信用卡忘记还款了怎么补救？"),
            "en": ("Where can I see my credit card bill?", "What's the minimum payment on my credit card this month?",
                   "How do I set up automatic credit card repayment?",
                   "Will paying my credit card one day late hurt my credit record?",
                   "Can I pay my credit card through {channel}?", "Can I split my credit card bill into instalments?",
                   "When is my credit card statement date?", "My credit card payment is overdue. What should I do?",
                   "How do I check my credit card bill through {channel}?",
                   "I forgot to pay my credit card. How do I fix it?"),
        },
        answer={
            "zh": "您可在兰亭银行手机银行“信用卡-账单”中查看本期账单、最低还款额和到期还款日，"
                  "并可绑定借记卡设置到期自动还款。到期还款日后有3天宽限期，宽限期内全额还款不视为逾期；"
                  "账单金额较大时可申请账单分期。",
            "en": "You can see the current bill, the minimum payment and the due date in the Lanting Bank app "
                  "under Credit Card > Bills, and link a debit card for automatic repayment. There is a 3-day "
                  "grace period after the due date: paying in full within it does not count as late. Large "
                  "bills can be split into instalments.",
        },
        facts={
            "zh": ("兰亭银行信用卡到期还款日后设有3天宽限期，宽限期内还款不计入逾期记录。",
                   "客户可通过{channel}查询信用卡账单，并在账单日后申请账单分期。"),
            "en": ("Lanting Bank credit cards have a 3-day grace period after the due date.",
                   "Credit card bills can be viewed through {channel}, and instalments can be requested after "
                   "the statement date."),
        },
    ),
    Intent(
        id="credit_limit_increase",
        name={"zh": "信用卡提额", "en": "Credit limit increase"},
        questions={
            "zh": ("信用卡额度能提到{new_limit}吗？", "怎么申请提高信用卡额度？", "信用卡临时额度怎么申请？",
                   "我想把额度调到{new_limit}，要什么条件？", "信用卡多久可以提一次额？", "提额申请被拒了是什么原因？",
                   "出国旅游想临时提额到{new_limit}。"),
            "en": ("Can my credit limit be raised to {new_limit}?", "How do I apply for a higher credit limit?",
                   "How do I get a temporary credit limit increase?",
                   "I'd like a limit of {new_limit}. What do I need?", "How often can I ask for a limit increase?",
                   "Why was my limit increase request turned down?",
                   "I need a temporary limit of {new_limit} for a trip abroad."),
        },
        answer={
            "zh": "您可在兰亭银行手机银行“信用卡-额度管理”中申请提额，系统会根据用卡情况、还款记录和收入信息"
                  "实时评估。固定额度一般每6个月可申请一次；临时额度有效期最长90天，到期后自动恢复原额度。"
                  "按时还款、经常用卡有助于提额。",
            "en": "You can apply in the Lanting Bank app under Credit Card > Credit Limit; we assess your card use, "
                  "repayment record and income straight away. A permanent increase can usually be requested "
                  "every 6 months. A temporary increase lasts up to 90 days, then the original limit returns. "
                  "Paying on time and using the card regularly help.",
        },
        facts={
            "zh": ("兰亭银行信用卡临时额度最长有效90天，到期后自动恢复为固定额度。",
                   "近期，兰亭银行对用卡良好的客户开展主动提额，额度最高可达{new_limit}。"),
            "en": ("A temporary credit limit at Lanting Bank lasts at most 90 days.",
                   "Lanting Bank is raising limits for cardholders with a good record, up to {new_limit}."),
        },
    ),
)
